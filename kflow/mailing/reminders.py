"""The reminder sweep, automatic triggers and daily digests (lifecycle.md §4).

Exactly once, whatever restarts or parallel schedulers happen: a rung is a row in ``reminders``
with a unique (case, due, rung); it is inserted with ON CONFLICT DO NOTHING and only the
transaction that inserted it writes the notifications or mails that go with it. Each batch is
one transaction, so a sweep killed half-way leaves either a whole batch or nothing.

A sweep reads only cases whose ``next_reminder_on`` has come (a partial index), so its cost grows
with the cases that have something due, not with all cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kflow.calendar import STOCKHOLM, is_working_day, local_date, next_working_day
from kflow.cases.models import Case
from kflow.engine.authority import SYSTEM, Authority
from kflow.engine.deadlines import rung_dates
from kflow.engine.fire import fire
from kflow.errors import KflowError
from kflow.mailing import notify
from kflow.mailing.models import Notification, Reminder
from kflow.mailing.outbox import Mail, enqueue
from kflow.org.models import User
from kflow.runtime import Runtime
from kflow.states import MACHINES
from kflow.states.base import Trigger

log = logging.getLogger(__name__)
BATCH = 500
RUNG_LABELS = {
    "upcoming": "Förfaller snart",
    "due": "Förfaller i dag",
    "overdue": "Försenat",
    "escalated": "Eskalerat",
}
ESCALATION_TEXT = {
    "overdue": "Ärendet är försenat; processledaren en nivå upp har också fått besked.",
    "escalated": "Ärendet är kraftigt försenat och har eskalerats till ordföranden en nivå upp.",
}


@dataclasses.dataclass
class SweepResult:
    # "case_type.trigger" -> how many cases the system moved by a Timer
    timers: dict[str, int] = dataclasses.field(default_factory=dict)
    rungs: int = 0
    notifications: int = 0
    mails: int = 0

    @property
    def closed_consultations(self) -> int:
        return self.timers.get("knowledge_support.close_consultation", 0)


def sweep(runtime: Runtime, now: dt.datetime) -> SweepResult:
    """Fire due automatic triggers, then every reminder rung that has come."""
    result = SweepResult()
    fire_timers(runtime, now, result)
    after: tuple[dt.date, int] | None = None
    while True:
        with runtime.transaction() as session:
            after = _sweep_batch(session, runtime, now, result, after)
        if after is None:
            break
    return result


def fire_timers(runtime: Runtime, now: dt.datetime, result: SweepResult) -> None:
    """The system fires each trigger declared with a ``Timer`` on the first working day after
    the date its timer names (a consultation closes the day after its deadline, say)."""
    today = local_date(now)
    for machine in MACHINES.values():
        for spec in machine.triggers.values():
            if spec.timer is not None:
                _fire_timer(runtime, now, today, machine.case_type, spec, result)


def _fire_timer(
    runtime: Runtime,
    now: dt.datetime,
    today: dt.date,
    case_type: str,
    spec: Trigger,
    result: SweepResult,
) -> None:
    assert spec.timer is not None
    column = Case.__table__.c[spec.timer.column]
    with runtime.transaction(write=False) as session:
        candidates = session.execute(
            select(Case.id, column).where(
                Case.type == case_type, Case.state.in_(sorted(spec.sources)), column < today
            )
        ).all()
    for case_id, day in candidates:
        if today < next_working_day(day + dt.timedelta(days=1)):
            continue
        try:
            with runtime.transaction() as session:
                case = session.get(Case, case_id)
                if case is None or case.state not in spec.sources:
                    continue  # another scheduler got there first
                fire(
                    session,
                    Authority(session, SYSTEM),
                    case,
                    spec.name,
                    settings=runtime.settings,
                    now=now,
                )
            key = f"{case_type}.{spec.name}"
            result.timers[key] = result.timers.get(key, 0) + 1
        except KflowError as exc:  # a parallel sweep fired it between our read and write
            log.info("%s %s: not fired by this sweep: %s", spec.name, case_id, exc.message)


def _latest_rung(
    due: dt.date, today: dt.date, runtime: Runtime
) -> tuple[str | None, dt.date | None]:
    """The latest rung that has come by ``today``, and the day of the one after it."""
    latest: str | None = None
    following: dt.date | None = None
    for rung, day in rung_dates(due, runtime.settings):
        if day <= today:
            latest, following = rung, None
        elif following is None:
            following = day
            if latest is not None:
                break
    return latest, following


def _insert_reminder(
    session: Session, case_id: int, due: dt.date, rung: str, now: dt.datetime
) -> int | None:
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        dialect_insert(Reminder)
        .values(case_id=case_id, due=due, rung=rung, fired_at=now)
        .on_conflict_do_nothing(index_elements=["case_id", "due", "rung"])
        .returning(Reminder.id)
    )
    reminder_id: int | None = session.scalar(stmt)
    return reminder_id


def _sweep_batch(
    session: Session,
    runtime: Runtime,
    now: dt.datetime,
    result: SweepResult,
    after: tuple[dt.date, int] | None,
) -> tuple[dt.date, int] | None:
    """Handle one batch of the cases whose next rung has come, in the order of the partial
    index on next_reminder_on (so a sweep reads only those, however many cases there are);
    return where the batch ended (None: done)."""
    today = local_date(now)
    due_now = Case.next_reminder_on <= today
    if after is not None:
        due_now = and_(due_now, tuple_(Case.next_reminder_on, Case.id) > tuple_(*after))
    stmt = (
        select(Case.id, Case.due, Case.state, Case.next_reminder_on)
        .where(due_now)
        .order_by(Case.next_reminder_on, Case.id)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    fired: list[tuple[int, int, str]] = []  # (case id, reminder id, rung)
    for case_id, due, _state, _next_on in rows:
        if due is None:
            next_on = None
        else:
            rung, next_on = _latest_rung(due, today, runtime)
            if rung is not None:
                reminder_id = _insert_reminder(session, case_id, due, rung, now)
                if reminder_id is not None:
                    fired.append((case_id, reminder_id, rung))
        session.execute(update(Case).where(Case.id == case_id).values(next_reminder_on=next_on))
    if fired:
        _address(session, runtime, fired, now, result)
    result.rungs += len(fired)
    if not rows:
        return None
    last_id, last_on = rows[-1][0], rows[-1][3]
    assert last_on is not None  # selected by next_reminder_on <= today
    return last_on, last_id


def _address(
    session: Session,
    runtime: Runtime,
    fired: list[tuple[int, int, str]],
    now: dt.datetime,
    result: SweepResult,
) -> None:
    """Work out who hears of each fired rung; queue notifications (digest) or mails."""
    facts = notify.load_facts(session, [case_id for case_id, _, _ in fired])
    acting = notify.actors(session, list(facts.values()))
    tier_units = [f.tier_up_unit for f in facts.values() if f.tier_up_unit]
    leads = notify.holders(session, tier_units, "process_lead")
    chairs = notify.holders(session, tier_units, "chair")
    recipients: list[tuple[int, int, str, int]] = []  # (reminder id, user id, rung, case id)
    for case_id, reminder_id, rung in fired:
        f = facts[case_id]
        people = set(acting.get(case_id, set()))
        if rung in ("overdue", "escalated") and f.tier_up_unit:
            people |= leads.get(f.tier_up_unit, set())
        if rung == "escalated" and f.tier_up_unit:
            people |= chairs.get(f.tier_up_unit, set())
        recipients += [(reminder_id, user_id, rung, case_id) for user_id in sorted(people)]
    if not recipients:
        return
    if runtime.settings.reminders.digest:
        session.execute(
            insert(Notification),
            [{"reminder_id": r, "user_id": u, "created_at": now} for r, u, _, _ in recipients],
        )
        result.notifications += len(recipients)
        return
    users = notify.users_by_id(session, {u for _, u, _, _ in recipients})
    mails = [
        Mail(
            key=f"reminder:{reminder_id}:{user_id}",
            to_addr=users[user_id].email,
            template="digest",
            context={
                "name": users[user_id].name,
                "items": [_item(facts[case_id], rung, runtime)],
            },
        )
        for reminder_id, user_id, rung, case_id in recipients
    ]
    result.mails += enqueue(session, runtime.settings, mails)


def _item(facts: notify.CaseFacts, rung: str, runtime: Runtime) -> dict[str, Any]:
    item = facts.item(runtime.settings)
    item["rung_label"] = RUNG_LABELS[rung]
    item["escalation"] = ESCALATION_TEXT.get(rung, "")
    return item


def digest_due(now: dt.datetime, runtime: Runtime) -> bool:
    """Digests go out from digest_hour on working days (Stockholm time)."""
    local = now.astimezone(STOCKHOLM)
    return is_working_day(local.date()) and local.hour >= runtime.settings.reminders.digest_hour


def build_digests(runtime: Runtime, now: dt.datetime, force: bool = False) -> int:
    """One digest mail per recipient and day, holding what fell due since their last one."""
    if not (force or digest_due(now, runtime)):
        return 0
    day = local_date(now).isoformat()
    created = 0
    with runtime.transaction() as session:
        pending = session.execute(
            select(Notification.id, Notification.user_id, Reminder.case_id, Reminder.rung)
            .join(Reminder, Reminder.id == Notification.reminder_id)
            .join(User, User.id == Notification.user_id)
            .where(Notification.digest_key.is_(None), User.is_active.is_(True))
            .order_by(Notification.user_id, Notification.id)
        ).all()
        by_user: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        for note_id, user_id, case_id, rung in pending:
            by_user[user_id].append((note_id, case_id, rung))
        facts = notify.load_facts(session, {case_id for _, _, case_id, _ in pending})
        users = notify.users_by_id(session, by_user)
        for user_id, notes in by_user.items():
            key = f"digest:{user_id}:{day}"
            user = users[user_id]
            order = {"escalated": 0, "overdue": 1, "due": 2, "upcoming": 3}
            notes.sort(key=lambda n: (order[n[2]], n[1]))
            mail = Mail(
                key=key,
                to_addr=user.email,
                template="digest",
                context={
                    "name": user.name,
                    "items": [_item(facts[case_id], rung, runtime) for _, case_id, rung in notes],
                },
            )
            if enqueue(session, runtime.settings, [mail]) == 0:
                continue  # today's digest went out already; these wait for tomorrow's
            session.execute(
                update(Notification)
                .where(
                    Notification.id.in_([n for n, _, _ in notes]), Notification.digest_key.is_(None)
                )
                .values(digest_key=key)
            )
            created += 1
    return created
