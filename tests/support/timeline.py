"""Drive World cases at chosen moments (the World helpers fire at the real clock).

Deadlines and reminders depend on the day a case entered its state, so these helpers pass an
explicit ``now`` (Stockholm time) to every trigger.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.calendar import STOCKHOLM
from kflow.cases.models import Case, KnowledgeSupport
from kflow.mailing.models import Notification, OutboxMail, Reminder
from tests.support.world import World


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """``day`` (ISO) at ``hour`` Stockholm time."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), STOCKHOLM)


def published_ks(
    world: World, now: dt.datetime, kind: str = "kliniskt_kunskapsstod"
) -> KnowledgeSupport:
    """A knowledge support published at ``now`` (every earlier step at ``now`` too)."""
    ks = world.create_ks(kind=kind)
    for step, (trigger, kwargs) in World.PATH.items():
        who = "npo-lead" if trigger == "submit_for_approval" else "npo-chair"
        if trigger == "commission" and kind == "vardforlopp":
            kwargs = {"params": {"decision_ref": "SKS-2026-1"}}
        if step == "consultation":
            kwargs = {"params": {"channel": "remiss", "deadline": "2099-01-01"}}
        world.fire(ks, trigger, who, now=now, **kwargs)
    return ks


def adaptation_at(world: World, ks: Case, state: str, now: dt.datetime, **hand_off: Any) -> Case:
    """vgr's adaptation of ``ks`` moved to ``state`` at ``now``."""
    ra = world.adaptation(ks)
    if state == "received":
        return ra
    order = list(World.ADAPTATION_PATH)
    for step in order[: order.index(state) + 1]:
        trigger, who, kwargs = World.ADAPTATION_PATH[step]
        if trigger == "hand_off" and hand_off:
            kwargs = {"params": {**kwargs["params"], **hand_off}}
        world.fire(ra, trigger, who, now=now, **kwargs)
    return ra


def implementation_at(world: World, ra: Case, state: str, now: dt.datetime) -> Case:
    """The local implementation of vgr-psyk-1 under ``ra`` moved to ``state`` at ``now``."""
    li = world.implementation(ra)
    if state == "assigned":
        return li
    order = list(World.LOCAL_PATH)
    for step in order[: order.index(state) + 1]:
        trigger, who, kwargs = World.LOCAL_PATH[step]
        world.fire(li, trigger, who, now=now, **kwargs)
    return li


def handed_off(world: World, now: dt.datetime, **hand_off: Any) -> tuple[Case, Case, Case]:
    """A knowledge support published and adopted by vgr at ``now`` and handed off to
    vgr-psyk-1 and vgr-psyk-2: (adaptation, implementation 1, implementation 2)."""
    ks = published_ks(world, now)
    ra = adaptation_at(world, ks, "implementing", now, **hand_off)
    return ra, world.implementation(ra, "vgr-psyk-1"), world.implementation(ra, "vgr-psyk-2")


def outbox(session: Session, *where: Any) -> list[SimpleNamespace]:
    """Queued mail as the relay will send it: every column, with the content rendered."""
    session.expire_all()
    mails = []
    for row in session.scalars(select(OutboxMail).where(*where).order_by(OutboxMail.id)):
        mail = SimpleNamespace(**{c.key: getattr(row, c.key) for c in OutboxMail.__table__.c})
        mail.subject, mail.body_text, mail.body_html = row.content()
        mails.append(mail)
    return mails


def rungs(session: Session, case: Case) -> list[tuple[str, dt.date]]:
    return [
        (r.rung, r.due)
        for r in session.scalars(
            select(Reminder).where(Reminder.case_id == case.id).order_by(Reminder.id)
        )
    ]


def notified(
    session: Session, world: World, case: Case, rung: str, due: dt.date | None = None
) -> set[str]:
    """Names of the users a rung of ``case`` (for ``due``, if given) was addressed to."""
    names = {u.id: name for name, u in world.users.items()}
    stmt = (
        select(Notification.user_id)
        .join(Reminder, Reminder.id == Notification.reminder_id)
        .where(Reminder.case_id == case.id, Reminder.rung == rung)
    )
    if due is not None:
        stmt = stmt.where(Reminder.due == due)
    return {names[i] for i in session.scalars(stmt)}


def count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
