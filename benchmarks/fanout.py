"""Fan-out: publish 10 knowledge supports to the 21 regions, then hand each adaptation off to its
region's local units (290 per knowledge support): kflow against hand-written SQL.

Both start from copies of one fixture (10 knowledge supports in ``awaiting_approval``) and must
end with the same rows: 210 adaptations and 2,900 local implementations with their ``create``
history rows, a history row per move, and one hand-off mail per person who can act on the new
cases (the regions' coordinators and process leads, the units' local leads) in the outbox.
Every publish and every hand-off is its own transaction, fired by the person whose role allows
it. Timed: the 10 publishes and the 210 hand-offs. Not timed: moving each adaptation from
``received`` to ``adopted`` in between (three moves each, done the same way by both).

``python -m benchmarks.fanout '{json}'`` runs one contender (the suite calls it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from benchmarks.common import SQLITE_MODES, kflow_runtime, peak_rss_mb, worker_main
from benchmarks.org import OrgInfo, region_by_id
from benchmarks.peers.base import sqlite_time

HANDOFF_DUE_DAYS = 365


def handoff_due(today: dt.date) -> str:
    return (today + dt.timedelta(days=HANDOFF_DUE_DAYS)).isoformat()


# --- kflow --------------------------------------------------------------------------------------


def run_kflow(
    args: dict[str, Any], section: Callable[[], AbstractContextManager[Any]] = nullcontext
) -> dict[str, Any]:
    """kflow's fan-out; ``section`` wraps the timed phases (the profiler uses it)."""
    from sqlalchemy import select

    from benchmarks.org import Driver
    from kflow.calendar import local_date
    from kflow.cases.models import Case
    from kflow.db import utcnow
    from kflow.engine.authority import Actor, Authority
    from kflow.engine.fire import fire
    from kflow.engine.read import get_case
    from kflow.org.models import User
    from kflow.runtime import settle_heap

    info = OrgInfo.from_json(args["org"])
    regions = region_by_id(info)
    runtime = kflow_runtime(args["url"], args["mode"], Path(args["tmp"]))
    settings = runtime.settings
    due = handoff_due(local_date(utcnow()))

    # The signed-in people, as the web layer holds them (see benchmarks/peers/kflow_click.py).
    actors: dict[int, Actor] = {}
    with runtime.transaction(write=False) as session:
        for user in session.scalars(select(User)):
            session.expunge(user)
            actors[user.id] = Actor(user)

    def click(user_id: int, case_id: int, trigger: str, version: int, **kwargs: Any) -> Any:
        with runtime.transaction() as session:
            return fire(
                session,
                Authority(session, actors[user_id]),
                case_id,
                trigger,
                settings=settings,
                lock_version=version,
                **kwargs,
            )

    def rehearse() -> None:
        """A publish and a hand-off, rolled back: what a running server has done already
        (modules imported, mappers configured, statements compiled, calendar loaded)."""
        from kflow.db import begin_write

        session = runtime.sessions()
        begin_write(session)
        try:
            ks = args["supports"][0]
            chair = Authority(session, actors[ks["chair"]])
            params = {"decision_ref": "NPO-rehearsal"}
            fire(session, chair, ks["id"], "publish", settings=settings, params=params)
            ra = session.scalars(
                select(Case)
                .where(Case.type == "regional_adaptation", Case.knowledge_support_id == ks["id"])
                .order_by(Case.id)
            ).first()
            assert ra is not None
            region = regions[ra.region_id]
            Driver(session, settings).adapt_to_adopted(ra, region)
            units = {"units": info.handoff_units(region["code"]), "due": due}
            coordinator = Authority(session, actors[region["coordinator"]])
            fire(session, coordinator, ra.id, "hand_off", settings=settings, params=units)
        finally:
            session.rollback()
            session.close()

    rehearse()
    settle_heap()  # as `kflow serve` does after start-up
    with section():
        began = time.perf_counter()
        for number, ks in enumerate(args["supports"]):
            click(
                ks["chair"],
                ks["id"],
                "publish",
                ks["lock_version"],
                params={"decision_ref": f"NPO-{number}"},
            )
        publish_s = time.perf_counter() - began

    with runtime.transaction() as session:
        adaptations = [
            (ra.id, ra.region_id, ra.lock_version)
            for ra in session.scalars(
                select(Case)
                .where(
                    Case.type == "regional_adaptation",
                    Case.knowledge_support_id.in_([k["id"] for k in args["supports"]]),
                )
                .order_by(Case.id)
            )
        ]
    with runtime.transaction() as session:  # not timed: received -> adopted
        driver = Driver(session, settings)
        for ra_id, region_id, _version in adaptations:
            driver.adapt_to_adopted(get_case(session, ra_id), regions[region_id])
    versions = {ra_id: version + 3 for ra_id, _region, version in adaptations}

    with section():
        began = time.perf_counter()
        for ra_id, region_id, _version in adaptations:
            region = regions[region_id]
            click(
                region["coordinator"],
                ra_id,
                "hand_off",
                versions[ra_id],
                params={"units": info.handoff_units(region["code"]), "due": due},
            )
        handoff_s = time.perf_counter() - began
    runtime.engine.dispose()
    return {
        "publish_s": round(publish_s, 4),
        "handoff_s": round(handoff_s, 4),
        "total_s": round(publish_s + handoff_s, 4),
        "adaptations": len(adaptations),
        "peak_rss_mb": peak_rss_mb(),
    }


# --- hand-written SQL ---------------------------------------------------------------------------

PUBLISH = """
UPDATE cases SET state = 'published', lock_version = lock_version + 1,
    published_version = version, published_at = :now, next_review_due = :review,
    due = :review, next_reminder_on = :review_reminder, updated_at = :now
WHERE id = :id AND type = 'knowledge_support' AND state = 'awaiting_approval'
    AND lock_version = :version
"""
EVENT = """
INSERT INTO case_events (case_id, trigger, from_state, to_state, actor_id, actor, role, override,
    at, comment, params)
VALUES (:case_id, :trigger, :from_state, :to_state, :actor_id, :actor, :role, 0, :at, NULL,
    :params)
"""
# A new version sends every existing adaptation back to 'received' (none on first publication).
REASSESS_EVENTS = """
INSERT INTO case_events (case_id, trigger, from_state, to_state, actor_id, actor, role, override,
    at, comment, params)
SELECT id, 'reassess', state, 'received', NULL, 'system', NULL, 0, :now, NULL, :params
FROM cases
WHERE type = 'regional_adaptation' AND knowledge_support_id = :ks AND state != 'cancelled'
"""
REASSESS = """
UPDATE cases SET state = 'received', lock_version = lock_version + 1, updated_at = :now,
    adapted_version = :version, due = :due, next_reminder_on = :reminder
WHERE type = 'regional_adaptation' AND knowledge_support_id = :ks AND state != 'cancelled'
RETURNING id
"""
NEW_ADAPTATIONS = """
INSERT INTO cases (type, state, lock_version, owner_id, region_id, knowledge_support_id, due,
    next_reminder_on, created_at, updated_at, adapted_version)
SELECT 'regional_adaptation', 'received', 1, u.id, u.id, :ks, :due, :reminder, :now, :now,
    :version
FROM units u
WHERE u.kind = 'region' AND NOT EXISTS (
    SELECT 1 FROM cases o WHERE o.type = 'regional_adaptation' AND o.knowledge_support_id = :ks
        AND o.owner_id = u.id)
RETURNING id
"""
HAND_OFF = """
UPDATE cases SET state = 'implementing', lock_version = lock_version + 1, due = NULL,
    next_reminder_on = NULL, updated_at = :now
WHERE id = :id AND type = 'regional_adaptation' AND state IN ('adopted', 'adapting')
    AND lock_version = :version
RETURNING region_id, knowledge_support_id
"""
NEW_IMPLEMENTATIONS = """
INSERT INTO cases (type, state, lock_version, owner_id, region_id, knowledge_support_id,
    parent_id, due, next_reminder_on, target_date, created_at, updated_at)
SELECT 'local_implementation', 'assigned', 1, u.id, :region, :ks, :ra, :due, :reminder, :target,
    :now, :now
FROM units u JOIN unit_closure uc ON uc.descendant_id = u.id AND uc.ancestor_id = :region
WHERE u.kind = 'local_unit' AND u.code IN (SELECT value FROM json_each(:codes))
    AND NOT EXISTS (
        SELECT 1 FROM cases o WHERE o.type = 'local_implementation' AND o.parent_id = :ra
            AND o.owner_id = u.id AND o.state NOT IN ('closed', 'waived', 'cancelled'))
RETURNING id
"""
# Who can act on the new cases now: holders of the acting roles at or above the owner unit.
RECIPIENTS = """
SELECT c.id, us.id, us.email, us.name, owner.name, coalesce(ks.title, c.title), c.due
FROM cases c
JOIN units owner ON owner.id = c.owner_id
LEFT JOIN cases ks ON ks.id = c.knowledge_support_id
JOIN unit_closure uc ON uc.descendant_id = c.owner_id
JOIN memberships m ON m.unit_id = uc.ancestor_id
JOIN users us ON us.id = m.user_id AND us.is_active
WHERE c.id IN (SELECT value FROM json_each(:ids))
    AND m.role IN (SELECT value FROM json_each(:roles))
ORDER BY us.id, c.id
"""
OUTBOX = """
INSERT INTO outbox (idempotency_key, message_id, to_addr, subject, body_text, body_html, status,
    attempts, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""
ACTING_ROLES = {
    "regional_adaptation": ["coordinator", "process_lead"],
    "local_implementation": ["local_lead", "member"],
}
TYPE_LABELS = {
    "regional_adaptation": "Regional tillämpning",
    "local_implementation": "Lokalt införande",
}


class RawFanout:
    def __init__(self, path: Path, mode: str, base_url: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, cached_statements=64, timeout=30)
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={SQLITE_MODES[mode]}")
        self.base_url = base_url.rstrip("/")

    def _events(
        self,
        ids: list[int],
        state: str,
        actor: tuple[int, str, str],
        at: str,
        params: dict[str, Any],
    ) -> None:
        user_id, email, role = actor
        blob = json.dumps(params)
        self.conn.executemany(
            EVENT,
            [
                {
                    "case_id": i,
                    "trigger": "create",
                    "from_state": None,
                    "to_state": state,
                    "actor_id": user_id,
                    "actor": email,
                    "role": role,
                    "at": at,
                    "params": blob,
                }
                for i in ids
            ],
        )

    def _mail(self, ids: list[int], case_type: str, cause_key: str, at: str) -> int:
        """One hand-off mail per person who can act on the new cases (a plain f-string body)."""
        if not ids:
            return 0
        rows = self.conn.execute(
            RECIPIENTS, {"ids": json.dumps(ids), "roles": json.dumps(ACTING_ROLES[case_type])}
        ).fetchall()
        by_user: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        people = {}
        for case_id, user_id, email, name, unit, title, due in rows:
            by_user[user_id].append((case_id, unit, title, due))
            people[user_id] = (email, name)
        label = TYPE_LABELS[case_type]
        mails = []
        for user_id, items in by_user.items():
            email, name = people[user_id]
            key = f"handoff:{cause_key}:{user_id}"
            lines = "\n".join(
                f"- {label}: {title}\n  Enhet: {unit}, klart senast {due}\n  "
                f"{self.base_url}/arenden/{case_id}"
                for case_id, unit, title, due in items
            )
            text = f"Hej {name},\n\n{len(items)} nya ärenden väntar på dig i kflow:\n\n{lines}\n"
            html = "<p>" + text.replace("\n", "<br>") + "</p>"
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            subject = f"{len(items)} nya ärenden: {label} – {items[0][2]}"
            mails.append((key, f"<{digest}@localhost>", email, subject[:300], text, html, at, at))
        self.conn.executemany(OUTBOX, mails)
        return len(mails)

    def publish(
        self,
        ks: dict[str, Any],
        number: int,
        actor: tuple[int, str, str],
        dates: dict[str, Any],
        commit: bool = True,
    ) -> None:
        conn, at = self.conn, sqlite_time(dt.datetime.now(dt.UTC))
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                PUBLISH,
                {
                    "id": ks["id"],
                    "version": ks["lock_version"],
                    "now": at,
                    "review": dates["review"],
                    "review_reminder": dates["review_reminder"],
                },
            )
            if cur.rowcount != 1:
                raise RuntimeError(f"publish {ks['id']}: conflict")
            user_id, email, role = actor
            conn.execute(
                EVENT,
                {
                    "case_id": ks["id"],
                    "trigger": "publish",
                    "from_state": "awaiting_approval",
                    "to_state": "published",
                    "actor_id": user_id,
                    "actor": email,
                    "role": role,
                    "at": at,
                    "params": json.dumps({"decision_ref": f"NPO-{number}"}),
                },
            )
            cause = {"cause": f"knowledge_support.{ks['id']}"}
            values = {
                "ks": ks["id"],
                "now": at,
                "version": 1,
                "due": dates["ra_due"],
                "reminder": dates["ra_reminder"],
            }
            conn.execute(REASSESS_EVENTS, {**values, "params": json.dumps({**cause, "version": 1})})
            reassessed = [r[0] for r in conn.execute(REASSESS, values).fetchall()]
            ids = [r[0] for r in conn.execute(NEW_ADAPTATIONS, values).fetchall()]
            self._events(ids, "received", actor, at, cause)
            self._mail(
                [*reassessed, *ids],
                "regional_adaptation",
                f"{ks['id']}.v{ks['lock_version'] + 1}",
                at,
            )
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def hand_off(
        self,
        ra_id: int,
        version: int,
        units: list[str],
        actor: tuple[int, str, str],
        dates: dict[str, Any],
    ) -> int:
        conn, at = self.conn, sqlite_time(dt.datetime.now(dt.UTC))
        conn.execute("BEGIN IMMEDIATE")
        try:
            moved = conn.execute(HAND_OFF, {"id": ra_id, "version": version, "now": at}).fetchone()
            if moved is None:
                raise RuntimeError(f"hand_off {ra_id}: conflict")
            region_id, ks_id = moved
            user_id, email, role = actor
            codes = sorted(set(units))
            conn.execute(
                EVENT,
                {
                    "case_id": ra_id,
                    "trigger": "hand_off",
                    "from_state": "adopted",
                    "to_state": "implementing",
                    "actor_id": user_id,
                    "actor": email,
                    "role": role,
                    "at": at,
                    "params": json.dumps({"units": codes, "due": dates["target"]}),
                },
            )
            ids = [
                r[0]
                for r in conn.execute(
                    NEW_IMPLEMENTATIONS,
                    {
                        "region": region_id,
                        "ks": ks_id,
                        "ra": ra_id,
                        "due": dates["li_due"],
                        "reminder": dates["li_reminder"],
                        "target": dates["target"],
                        "now": at,
                        "codes": json.dumps(codes),
                    },
                ).fetchall()
            ]
            if len(ids) != len(codes):
                raise RuntimeError(f"hand_off {ra_id}: {len(codes) - len(ids)} units refused")
            self._events(ids, "assigned", actor, at, {"cause": f"regional_adaptation.{ra_id}"})
            self._mail(ids, "local_implementation", f"{ra_id}.v{version + 1}", at)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(ids)

    def adopt_all(
        self,
        ks_ids: list[int],
        regions: dict[int, dict[str, Any]],
        emails: dict[int, str],
        today: dt.date,
    ) -> list[tuple[int, int, int]]:
        """Not timed: every adaptation received -> assessing -> awaiting_decision -> adopted."""
        conn, at = self.conn, sqlite_time(dt.datetime.now(dt.UTC))
        marks = ",".join("?" * len(ks_ids))
        rows = conn.execute(
            f"SELECT id, region_id, lock_version FROM cases WHERE type = 'regional_adaptation' "
            f"AND knowledge_support_id IN ({marks}) ORDER BY id",
            ks_ids,
        ).fetchall()
        steps = [
            ("start_assessment", "received", "assessing", "coordinator", None),
            ("submit_for_decision", "assessing", "awaiting_decision", "lead", "process_lead"),
            ("adopt", "awaiting_decision", "adopted", "chair", "chair"),
        ]
        conn.execute("BEGIN IMMEDIATE")
        for ra_id, region_id, _version in rows:
            for trigger, source, dest, who, role in steps:
                user_id = regions[region_id][who]
                conn.execute(
                    EVENT,
                    {
                        "case_id": ra_id,
                        "trigger": trigger,
                        "from_state": source,
                        "to_state": dest,
                        "actor_id": user_id,
                        "actor": emails[user_id],
                        "role": role or who,
                        "at": at,
                        "params": None,
                    },
                )
        conn.execute(
            f"UPDATE cases SET state = 'adopted', lock_version = lock_version + 3, due = ?, "
            f"decision_ref = 'RS-' || id, updated_at = ? WHERE type = 'regional_adaptation' "
            f"AND knowledge_support_id IN ({marks})",
            [(today + dt.timedelta(days=30)).isoformat(), at, *ks_ids],
        )
        conn.execute("COMMIT")
        return [(ra_id, region_id, version + 3) for ra_id, region_id, version in rows]


def run_raw(args: dict[str, Any]) -> dict[str, Any]:
    from kflow.calendar import add_business_days, add_months, local_date
    from kflow.config import load_settings
    from kflow.engine.deadlines import due_values
    from kflow.runtime import settle_heap

    info = OrgInfo.from_json(args["org"])
    regions = region_by_id(info)
    settings = load_settings(environ={}, overrides={"environment": "development"})
    today = local_date(dt.datetime.now(dt.UTC))
    # Date arithmetic on the Swedish business calendar is plain Python for both contenders.
    review = add_months(today, settings.deadlines.review_months)
    ra_due = today + dt.timedelta(days=settings.deadlines.adaptation_decision_days)
    li_due = add_business_days(today, settings.deadlines.implementation_acknowledge_business_days)
    dates = {
        "review": review.isoformat(),
        "review_reminder": str(due_values(review, settings)["next_reminder_on"]),
        "ra_due": ra_due.isoformat(),
        "ra_reminder": str(due_values(ra_due, settings)["next_reminder_on"]),
        "li_due": li_due.isoformat(),
        "li_reminder": str(due_values(li_due, settings)["next_reminder_on"]),
        "target": handoff_due(today),
    }
    raw = RawFanout(Path(args["url"].removeprefix("sqlite:///")), args["mode"], settings.base_url)
    emails = dict(raw.conn.execute("SELECT id, email FROM users").fetchall())
    first = args["supports"][0]  # a rehearsal, rolled back, as kflow has
    raw.publish(first, 0, (first["chair"], emails[first["chair"]], "chair"), dates, commit=False)
    settle_heap()  # the same for both contenders
    began = time.perf_counter()
    for number, ks in enumerate(args["supports"]):
        raw.publish(ks, number, (ks["chair"], emails[ks["chair"]], "chair"), dates)
    publish_s = time.perf_counter() - began
    adaptations = raw.adopt_all([k["id"] for k in args["supports"]], regions, emails, today)
    began = time.perf_counter()
    for ra_id, region_id, version in adaptations:
        region = regions[region_id]
        actor = (region["coordinator"], emails[region["coordinator"]], "coordinator")
        raw.hand_off(ra_id, version, info.handoff_units(region["code"]), actor, dates)
    handoff_s = time.perf_counter() - began
    raw.conn.close()
    return {
        "publish_s": round(publish_s, 4),
        "handoff_s": round(handoff_s, 4),
        "total_s": round(publish_s + handoff_s, 4),
        "adaptations": len(adaptations),
        "peak_rss_mb": peak_rss_mb(),
    }


def effect(path: Path) -> dict[str, Any]:
    """What a fan-out left behind, to compare the contenders: counts, not contents."""
    conn = sqlite3.connect(path)
    try:
        cases = dict(
            (f"{t}:{s}", n)
            for t, s, n in conn.execute(
                "SELECT type, state, count(*) FROM cases GROUP BY type, state ORDER BY 1, 2"
            )
        )
        events = dict(conn.execute("SELECT trigger, count(*) FROM case_events GROUP BY trigger"))
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        versions = conn.execute(
            "SELECT type, sum(lock_version) FROM cases GROUP BY type ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()
    return {"cases": cases, "events": events, "outbox": outbox, "versions": dict(versions)}


def run(args: dict[str, Any]) -> dict[str, Any]:
    result = run_kflow(args) if args["contender"] == "kflow" else run_raw(args)
    result["effect"] = effect(Path(args["url"].removeprefix("sqlite:///")))
    return result


def build_fixture(url: str, tmp: Path, info: OrgInfo, count: int) -> list[dict[str, Any]]:
    """``count`` knowledge supports in ``awaiting_approval`` (through kflow, with history)."""
    from benchmarks.org import Driver

    runtime = kflow_runtime(url, "relaxed", tmp)
    supports = []
    for number in range(count):
        npo = info.npos[number % len(info.npos)]
        with runtime.transaction() as session:
            driver = Driver(session, runtime.settings)
            ks = driver.knowledge_support(npo, f"Fan-out-kunskapsstöd {number + 1}")
            driver.to_awaiting_approval(ks, npo)
            supports.append({"id": ks.id, "chair": npo["chair"], "lock_version": ks.lock_version})
    runtime.engine.dispose()
    return supports


if __name__ == "__main__":
    worker_main(run)
