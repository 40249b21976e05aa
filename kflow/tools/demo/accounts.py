"""The demo's accounts as Administration shows them: every person's account created, with its
roles, the day before the first story began; recent log-ins for most; and one person who has
left (renamed, signed in, her role taken away and her account deactivated by the
administrator), so Användare has an inactive account with a history to look at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kflow.accounts import events, lifecycle
from kflow.accounts.events import AccountEventKind as Kind
from kflow.cases.models import Case
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.people import DOMAIN, FORMER, USERS


def accounts(b: Builder) -> None:
    session = b.session
    first = session.scalar(select(func.min(Case.created_at))) or b.at(30)
    opened = first - dt.timedelta(days=1)
    for login, _, _ in USERS:
        user = b.users[login]
        user.created_at = opened
        detail = {"email": user.email, "name": user.name}
        events.record(session, user, Kind.CREATED, events.SYSTEM, detail, at=opened)
        for membership in user.memberships:
            unit = membership.unit
            detail = {"role": membership.role, "unit": unit.code, "unit_name": unit.name}
            events.record(session, user, Kind.ROLE_GRANTED, events.SYSTEM, detail, at=opened)
    # Most have signed in in the last week, a few never have.
    for i, (login, _, _) in enumerate(USERS):
        if i % 6 != 5:
            b.users[login].last_login_at = b.at(1 + i % 7) + dt.timedelta(minutes=7 * i)
    _former(b, opened)
    session.flush()


def _former(b: Builder, opened: dt.datetime) -> None:
    session = b.session
    login, name, new_name, role, unit_code = FORMER
    admin = b.users["admin"]
    user = lifecycle.create(session, f"{login}@{DOMAIN}", name, None, events.SYSTEM, now=opened)
    user.password_hash = admin.password_hash  # the demo password, should she come back
    unit = b.units[unit_code]
    lifecycle.grant(session, user, role, unit, events.SYSTEM, now=opened)
    lifecycle.rename(session, user, new_name, admin, now=b.at(200))
    user.last_login_at = b.at(30)
    lifecycle.revoke(session, user, role, unit, admin, now=b.at(12))
    lifecycle.deactivate(session, user, admin, now=b.at(12) + dt.timedelta(minutes=3))
