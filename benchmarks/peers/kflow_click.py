"""kflow through its public service API, as the web request for a click does it.

One ``Runtime.transaction()`` per click (BEGIN IMMEDIATE on SQLite); inside it an ``Authority``
is built for the signed-in user and ``kflow.engine.fire.fire`` (by id) moves the case with the
client's ``lock_version``: the case and the user's roles on it in one read, trigger and version
checks, the permission check through the unit closure, the state machine, the due date, the
guarded UPDATE and the history row, then the commit. Who the user is was settled at sign-in
(the web layer's session or token look-up, not part of the click), as for every peer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import engine_pragmas, kflow_runtime
from benchmarks.peers.base import CASE_TYPE, move


class KflowClick:
    def __init__(self, url: str, mode: str, tmp: Path) -> None:
        from kflow.engine.authority import Actor, Authority
        from kflow.engine.fire import fire as fire_id
        from kflow.org.models import User

        self.runtime = kflow_runtime(url, mode, tmp)
        self.url = url
        self._authority = Authority
        self._fire = fire_id
        self._actors: dict[int, Any] = {}
        # The signed-in users, as the web layer holds them (see the module docstring).
        with self.runtime.transaction(write=False) as session:
            for user in session.query(User):
                session.expunge(user)
                self._actors[user.id] = Actor(user)

    def click(self, case: dict[str, Any]) -> int:
        trigger, _dest, comment = move(case["state"])
        runtime = self.runtime
        with runtime.transaction() as session:
            authority = self._authority(session, self._actors[case["user_id"]])
            fired = self._fire(
                session,
                authority,
                case["id"],
                trigger,
                case_type=CASE_TYPE,
                settings=runtime.settings,
                comment=comment,
                lock_version=case["lock_version"],
            )
            version = fired.case.lock_version
        return int(version)

    def pragmas(self) -> dict[str, str]:
        if not self.url.startswith("sqlite"):
            return {}
        return engine_pragmas(self.runtime.engine)

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        from sqlalchemy import func, select

        from kflow.cases.events import CaseEvent
        from kflow.cases.models import Case

        with self.runtime.transaction(write=False) as session:
            rows = session.execute(
                select(Case.id, Case.state, Case.lock_version).where(Case.id.in_(case_ids))
            ).all()
            history = session.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .where(
                    CaseEvent.trigger.in_(("put_on_hold", "resume")),
                    CaseEvent.case_id.in_(case_ids),
                )
            )
        return {"cases": {str(i): [s, v] for i, s, v in rows}, "history_rows": history}

    def close(self) -> None:
        self.runtime.engine.dispose()
