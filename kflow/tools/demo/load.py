"""``load_demo``: seed the reference data, then build the demo unless it is there already."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.config import Settings
from kflow.db import utcnow
from kflow.errors import ValidationError
from kflow.org.models import Membership, Unit, User
from kflow.org.roles import ROLE_LABELS, Role, UnitKind
from kflow.tools.demo.accounts import accounts
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.detours import beyond_the_path
from kflow.tools.demo.lists import follow_up
from kflow.tools.demo.national import story
from kflow.tools.demo.people import DEFAULT_PASSWORD, DOMAIN, USERS
from kflow.tools.demo.reports import report_chain
from kflow.tools.demo.stories import STORIES
from kflow.tools.seed import seed


@dataclasses.dataclass(frozen=True)
class DemoResult:
    already_loaded: bool
    # Cases in the database after loading (the demo's, including every fan-out).
    cases: int
    # (e-mail, name, roles as text), in the order they are best introduced.
    users: list[tuple[str, str, str]]


def load_demo(
    session: Session,
    settings: Settings,
    password: str = DEFAULT_PASSWORD,
    *,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Seed the reference data, then load the demo data set unless a demo user exists.

    :param now: the moment the stories are counted back from (default: the current time).
    """
    seed(session, settings.organisation_path)
    if _demo_user_exists(session):
        return DemoResult(True, _count_cases(session), logins(session))
    if len(password) < 8:
        raise ValidationError("Lösenordet måste ha minst 8 tecken.")
    builder = Builder(session, settings, now or utcnow())
    builder.organisation(password)
    made = {told.title: story(builder, told) for told in STORIES}
    beyond_the_path(builder, made)
    follow_up(builder)
    report_chain(builder)
    accounts(builder)
    session.flush()
    return DemoResult(False, _count_cases(session), logins(session))


def _demo_user_exists(session: Session) -> bool:
    found = session.scalar(select(User.id).where(User.email.like(f"%@{DOMAIN}")).limit(1))
    return found is not None


def _count_cases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def _unit_label(unit: Unit) -> str:
    if unit.kind == UnitKind.NPO:
        return f"NPO {unit.name}"
    if unit.kind == UnitKind.NSG:
        return f"NSG {unit.name}"
    return unit.name


def logins(session: Session) -> list[tuple[str, str, str]]:
    """The active demo users with their roles as text, in the order of USERS (others after)."""
    order = {f"{login}@{DOMAIN}": i for i, (login, _, _) in enumerate(USERS)}
    rows = session.execute(
        select(User.email, User.name, Membership.role, Unit)
        .outerjoin(Membership, Membership.user_id == User.id)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(User.email.like(f"%@{DOMAIN}"), User.is_active.is_(True))
        .order_by(User.email, Membership.id)
    ).all()
    roles: dict[tuple[str, str], list[str]] = {}
    for email, name, role, unit in rows:
        texts = roles.setdefault((email, name), [])
        if role is not None and unit is not None:
            texts.append(f"{ROLE_LABELS[Role(role)]}, {_unit_label(unit)}")
    users = [(email, name, "; ".join(texts)) for (email, name), texts in roles.items()]
    return sorted(users, key=lambda u: (order.get(u[0], len(order)), u[0]))
