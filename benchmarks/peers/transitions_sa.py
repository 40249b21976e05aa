"""Bare ``transitions`` with the SQLAlchemy ORM: what one would write without kflow.

The models map kflow's own ``cases``, ``case_events`` and ``users`` tables (only the columns
this needs). One shared ``Machine`` (the library's way to serve many models) is attached to the
loaded case with ``add_model`` and detached after the click; the machine's
``after_state_change`` callback adds the history row. ``version_id_col`` guards the UPDATE with
the version (and so the state it was read in). No permission check.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from transitions import EventData, Machine

from benchmarks.common import engine_pragmas, sqlite_pragmas
from benchmarks.peers.base import CASE_TYPE, Conflict, move


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))


class Adaptation(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    lock_version: Mapped[int] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    __mapper_args__ = {"version_id_col": lock_version}


class Event(Base):
    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(32))
    override: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    params: Mapped[Any] = mapped_column(JSON, nullable=True)


def _record(event_data: EventData) -> None:
    """after_state_change: one history row for the move just made."""
    kwargs = event_data.kwargs
    case = event_data.model
    session: Session = kwargs["session"]
    user: User = kwargs["user"]
    session.add(
        Event(
            case_id=case.id,
            trigger=event_data.event.name,
            from_state=event_data.transition.source,
            to_state=event_data.transition.dest,
            actor_id=user.id,
            actor=user.email,
            role="coordinator",
            at=kwargs["at"],
            comment=kwargs.get("comment"),
        )
    )
    case.updated_at = kwargs["at"]


MACHINE = Machine(
    model=None,
    states=["received", "assessing", "on_hold", "awaiting_decision"],
    transitions=[
        {"trigger": "put_on_hold", "source": "assessing", "dest": "on_hold"},
        {"trigger": "resume", "source": "on_hold", "dest": "assessing"},
    ],
    initial=None,
    auto_transitions=False,
    send_event=True,
    after_state_change=_record,
)


class TransitionsSqlAlchemy:
    def __init__(self, url: str, mode: str, tmp: Path) -> None:
        self.engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _foreign_keys)
            event.listen(self.engine, "connect", sqlite_pragmas(mode))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def click(self, case: dict[str, Any]) -> int:
        trigger, _dest, comment = move(case["state"])
        with self.sessions() as session, session.begin():
            user = session.get(User, case["user_id"])
            found = session.get(Adaptation, case["id"])
            if found is None or found.type != CASE_TYPE:
                raise LookupError(case["id"])
            if found.lock_version != case["lock_version"]:
                raise Conflict(case["id"])
            MACHINE.add_model(found, initial=found.state)
            try:
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                getattr(found, trigger)(session=session, user=user, at=now, comment=comment)
            finally:
                MACHINE.remove_model(found)
            session.flush()
            version = found.lock_version
        return int(version)

    def pragmas(self) -> dict[str, str]:
        return engine_pragmas(self.engine)

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        with self.sessions() as session:
            rows = session.execute(
                select(Adaptation.id, Adaptation.state, Adaptation.lock_version).where(
                    Adaptation.id.in_(case_ids)
                )
            ).all()
            history = session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.trigger.in_(("put_on_hold", "resume")), Event.case_id.in_(case_ids))
            )
        return {"cases": {str(i): [s, v] for i, s, v in rows}, "history_rows": history}

    def close(self) -> None:
        self.engine.dispose()


def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
