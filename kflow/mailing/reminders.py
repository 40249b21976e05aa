"""Reminder rungs and daily digests (lifecycle.md §4): one batch of the sweep, and the digests
of one day, each on a session its caller commits (kflow.jobs.sweep and kflow.jobs.digests).

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
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.cases.models import Case
from kflow.config import Settings
from kflow.mailing import notify
from kflow.mailing.ladder import rung_dates
from kflow.mailing.models import Notification, Reminder
from kflow.mailing.outbox import Mail, enqueue
from kflow.org.models import User
from kflow.org.roles import Role

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
DIGEST_ORDER = {"escalated": 0, "overdue": 1, "due": 2, "upcoming": 3}


@dataclasses.dataclass
class Batch:
    """What one batch of the sweep did, and where the next one starts (None: done)."""

    after: tuple[dt.date, int] | None
    rungs: int = 0
    notifications: int = 0
    mails: int = 0


def sweep_batch(
    session: Session, settings: Settings, now: dt.datetime, after: tuple[dt.date, int] | None
) -> Batch:
    """Handle one batch of the cases whose next rung has come, in the order of the partial
    index on next_reminder_on (so a sweep reads only those, however many cases there are),
    starting after ``after`` (None: at the start)."""
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
            rung, next_on = _latest_rung(due, today, settings)
            if rung is not None:
                reminder_id = _insert_reminder(session, case_id, due, rung, now)
                if reminder_id is not None:
                    fired.append((case_id, reminder_id, rung))
        session.execute(update(Case).where(Case.id == case_id).values(next_reminder_on=next_on))
    batch = Batch(None, rungs=len(fired))
    if fired:
        batch.notifications, batch.mails = _address(session, settings, fired, now)
    if rows:
        last_id, last_on = rows[-1][0], rows[-1][3]
        assert last_on is not None  # selected by next_reminder_on <= today
        batch.after = (last_on, last_id)
    return batch


def _latest_rung(
    due: dt.date, today: dt.date, settings: Settings
) -> tuple[str | None, dt.date | None]:
    """The latest rung that has come by ``today``, and the day of the one after it."""
    latest: str | None = None
    following: dt.date | None = None
    for rung, day in rung_dates(due, settings):
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


def _address(
    session: Session, settings: Settings, fired: list[tuple[int, int, str]], now: dt.datetime
) -> tuple[int, int]:
    """Work out who hears of each fired rung; queue notifications (digest) or mails.
    Returns (notifications, mails) queued."""
    facts = notify.load_facts(session, [case_id for case_id, _, _ in fired])
    acting = notify.actors(session, list(facts.values()))
    tier_units = [f.tier_up_unit for f in facts.values() if f.tier_up_unit]
    leads = notify.holders(session, tier_units, Role.PROCESS_LEAD)
    chairs = notify.holders(session, tier_units, Role.CHAIR)
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
        return 0, 0
    if settings.reminders.digest:
        session.execute(
            insert(Notification),
            [{"reminder_id": r, "user_id": u, "created_at": now} for r, u, _, _ in recipients],
        )
        return len(recipients), 0
    users = notify.users_by_id(session, {u for _, u, _, _ in recipients})
    mails = [
        Mail(
            key=f"reminder:{reminder_id}:{user_id}",
            to_addr=users[user_id].email,
            template="digest",
            context=_digest_context(users[user_id].name, [_item(facts[case_id], rung, settings)]),
        )
        for reminder_id, user_id, rung, case_id in recipients
    ]
    return 0, enqueue(session, settings, mails)


def _item(facts: notify.CaseFacts, rung: str, settings: Settings) -> dict[str, Any]:
    item = facts.item(settings)
    item["rung_label"] = RUNG_LABELS[rung]
    item["escalation"] = ESCALATION_TEXT.get(rung, "")
    item["group"] = facts.ks_id or 0  # the knowledge support it belongs to (0: none)
    return item


def _digest_context(name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A digest's values: its items, and the same items grouped by knowledge support (in the
    order of each group's first item; cases of no knowledge support last)."""
    groups: dict[int, dict[str, Any]] = {}
    for item in items:
        group = groups.setdefault(
            item["group"],
            {"title": item["title"] if item["group"] else "Övriga ärenden", "items": []},
        )
        group["items"].append(item)
    ordered = sorted(groups.items(), key=lambda pair: pair[0] == 0)
    return {"name": name, "items": items, "groups": [group for _, group in ordered]}


def queue_digests(session: Session, settings: Settings, day: dt.date) -> int:
    """Queue ``day``'s digest of every active person with notifications waiting: one mail per
    person and day, holding what fell due since their last one. Returns the digests queued."""
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
    created = 0
    for user_id, notes in by_user.items():
        key = f"digest:{user_id}:{day.isoformat()}"
        if queue_digest(session, settings, users[user_id], notes, facts, key):
            created += 1
    return created


def queue_digest(
    session: Session,
    settings: Settings,
    user: notify.Person,
    notes: list[tuple[int, int, str]],
    facts: dict[int, notify.CaseFacts],
    key: str,
) -> bool:
    """Queue one person's digest of ``notes`` (notification id, case id, rung) under ``key``
    and mark the notes as carried by it; False if that digest was queued already (the notes
    then wait for the next one)."""
    notes.sort(key=lambda n: (DIGEST_ORDER[n[2]], n[1]))
    mail = Mail(
        key=key,
        to_addr=user.email,
        template="digest",
        context=_digest_context(
            user.name, [_item(facts[case_id], rung, settings) for _, case_id, rung in notes]
        ),
    )
    if enqueue(session, settings, [mail]) == 0:
        return False  # today's digest went out already; these wait for tomorrow's
    session.execute(
        update(Notification)
        .where(Notification.id.in_([n for n, _, _ in notes]), Notification.digest_key.is_(None))
        .values(digest_key=key)
    )
    return True
