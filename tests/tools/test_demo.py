"""The demo data set (`kflow demo`): complete, real, idempotent and deterministic.

Most tests read one demo database per backend, loaded once through the CLI as `make run` does;
the tests that need a load of their own use the rolled-back ``session``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from kflow.accounts import events
from kflow.calendar import local_date
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.config import Settings
from kflow.errors import ValidationError
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Membership, User
from kflow.org.roles import Role
from kflow.runtime import Runtime
from kflow.states import MACHINES
from kflow.tools.cli import main
from kflow.tools.demo import DOMAIN, USERS, load_demo
from kflow.tools.migrate import upgrade
from tests.conftest import Database

DEMO_USERS = f"%@{DOMAIN}"


class Demo:
    """A database of its own with the demo loaded by `kflow demo`, and that command's output."""

    def __init__(self, runtime: Runtime, loaded: Result, loaded_at: dt.datetime) -> None:
        self.runtime = runtime
        self.loaded = loaded
        self.loaded_at = loaded_at


@pytest.fixture(scope="module")
def demo(database: Database) -> Iterator[Demo]:
    from tests.conftest import make_settings

    settings = make_settings(database_url=database.new_database("demo"))
    runtime = Runtime.create(settings)
    upgrade(runtime.engine)
    loaded_at = dt.datetime.now(dt.UTC)
    result = CliRunner().invoke(main, ["demo"], obj=runtime)
    yield Demo(runtime, result, loaded_at)
    runtime.engine.dispose()


@pytest.fixture
def demo_session(demo: Demo) -> Iterator[Session]:
    """A session on the demo database whose changes are rolled back."""
    with demo.runtime.sessions() as session:
        yield session
        session.rollback()


def states_by_type(session: Session) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    rows = session.execute(
        select(Case.type, Case.state, func.count()).group_by(Case.type, Case.state)
    )
    for case_type, state, count in rows:
        assert count > 0
        found.setdefault(case_type, set()).add(state)
    return found


def count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot(session: Session) -> list[tuple[object, ...]]:
    """What a load produced, without database ids."""
    cases = session.execute(
        select(Case.type, Case.state, Case.due, Case.created_at, func.count())
        .group_by(Case.type, Case.state, Case.due, Case.created_at)
        .order_by(Case.type, Case.state, Case.due, Case.created_at)
    ).all()
    events = session.execute(
        select(CaseEvent.trigger, CaseEvent.actor, CaseEvent.at, func.count())
        .group_by(CaseEvent.trigger, CaseEvent.actor, CaseEvent.at)
        .order_by(CaseEvent.trigger, CaseEvent.actor, CaseEvent.at)
    ).all()
    return [tuple(row) for row in [*cases, *events]]


def test_demo_command_loads_and_prints_the_log_ins(demo: Demo, demo_session: Session) -> None:
    output = demo.loaded.output
    assert demo.loaded.exit_code == 0, output
    assert f"Demo data loaded: {count(demo_session, Case)} cases." in output
    assert "Demo log-ins (password for all: kflow-demo):" in output
    assert "samordnare.vgr@demo.kflow.se" in output
    assert "Samordnare, Västra Götalandsregionen" in output


def test_demo_covers_every_state_of_every_case_type(demo_session: Session) -> None:
    found = states_by_type(demo_session)

    for case_type, machine in MACHINES.items():
        assert found.get(case_type) == set(machine.state_names), case_type
    assert 25 <= count(demo_session, Case, Case.type == "knowledge_support") <= 40


def test_demo_history_is_real(demo: Demo, demo_session: Session) -> None:
    session = demo_session
    # Every case has a history, and its last row ends in the case's current state.
    assert (
        count(session, Case, ~select(CaseEvent.id).where(CaseEvent.case_id == Case.id).exists())
        == 0
    )
    last_event = (
        select(CaseEvent.case_id, func.max(CaseEvent.id).label("last_id"))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    mismatched = session.scalar(
        select(func.count())
        .select_from(Case)
        .join(last_event, last_event.c.case_id == Case.id)
        .join(CaseEvent, CaseEvent.id == last_event.c.last_id)
        .where(CaseEvent.to_state != Case.state)
    )
    assert mismatched == 0
    # People acted in their roles, the system fired the automatic triggers, and the one admin
    # override is recorded as such.
    actors = set(session.scalars(select(CaseEvent.actor).distinct()))
    assert "system" in actors
    assert all(a == "system" or a.endswith(f"@{DOMAIN}") for a in actors)
    assert count(session, CaseEvent, CaseEvent.role.is_(None), CaseEvent.actor != "system") == 0
    overrides = session.execute(
        select(CaseEvent.actor, CaseEvent.role).where(CaseEvent.override.is_(True))
    ).all()
    assert overrides == [(f"admin@{DOMAIN}", "admin")]
    # All of it in the past, spread over months.
    first, last = session.execute(select(func.min(CaseEvent.at), func.max(CaseEvent.at))).one()
    assert last < demo.loaded_at
    assert last - first > dt.timedelta(days=365)


def test_demo_has_overdue_and_upcoming_cases(demo: Demo, demo_session: Session) -> None:
    today = local_date(demo.loaded_at)
    open_due = [
        due
        for case_type, state, due in demo_session.execute(
            select(Case.type, Case.state, Case.due).where(Case.due.is_not(None))
        )
        if state not in MACHINES[case_type].final
    ]
    assert any(due < today for due in open_due)
    assert any(today <= due <= today + dt.timedelta(days=7) for due in open_due)


def test_demo_reports_indicator_measurements(demo_session: Session) -> None:
    assert count(demo_session, Indicator) >= 5
    # Every measurement belongs to an implementation of the indicator's knowledge support.
    stray = demo_session.scalar(
        select(func.count())
        .select_from(Measurement)
        .join(Indicator, Indicator.id == Measurement.indicator_id)
        .join(Case, Case.id == Measurement.case_id)
        .where(Case.knowledge_support_id != Indicator.knowledge_support_id)
    )
    assert stray == 0
    assert count(demo_session, Measurement) >= 5


def test_demo_has_a_user_for_every_role_and_all_can_log_in(demo_session: Session) -> None:
    session = demo_session
    roles = set(
        session.scalars(
            select(Membership.role)
            .join(User, User.id == Membership.user_id)
            .where(User.email.like(DEMO_USERS))
        )
    )
    assert roles == set(Role)
    users = session.scalars(
        select(User).where(User.email.like(DEMO_USERS), User.is_active.is_(True))
    ).all()
    assert len(users) == len(USERS)
    assert all(user.password_hash for user in users)
    # Checked once per distinct hash (the users share one): scrypt is slow on purpose.
    for password_hash in {user.password_hash for user in users}:
        assert password_hash is not None
        assert check_password_hash(password_hash, "kflow-demo")
        assert not check_password_hash(password_hash, "kflow-demo2")


def test_demo_accounts_have_histories_and_one_has_left(demo: Demo, demo_session: Session) -> None:
    session = demo_session
    left = session.scalars(
        select(User).where(User.email.like(DEMO_USERS), User.is_active.is_(False))
    ).all()
    assert [u.email for u in left] == [f"tidigare.majorna@{DOMAIN}"]
    kinds = [e.kind for e in events.history(session, left[0].id)]
    assert kinds == ["deactivated", "role_revoked", "renamed", "role_granted", "created"]
    assert left[0].last_login_at is not None and left[0].memberships == []
    assert f"tidigare.majorna@{DOMAIN}" not in demo.loaded.output  # not among the log-ins
    admin = session.scalar(select(User).where(User.email == f"admin@{DOMAIN}"))
    assert admin is not None
    assert [e.kind for e in events.history(session, admin.id)] == ["role_granted", "created"]
    first_case = session.scalar(select(func.min(Case.created_at)))
    assert first_case is not None and admin.created_at < first_case
    signed_in = count(session, User, User.email.like(DEMO_USERS), User.last_login_at.is_not(None))
    assert len(USERS) // 2 < signed_in < len(USERS)


def test_demo_is_idempotent(demo: Demo, demo_session: Session, settings: Settings) -> None:
    cases, events = count(demo_session, Case), count(demo_session, CaseEvent)
    users = count(demo_session, User)

    again = load_demo(demo_session, settings)
    demo_session.flush()

    assert again.already_loaded
    assert again.cases == cases
    assert [email for email, _, _ in again.users] == [f"{u}@{DOMAIN}" for u, _, _ in USERS]
    assert again.users[5] == (
        "samordnare.vgr@demo.kflow.se",
        "Eva Karlsson",
        "Samordnare, Västra Götalandsregionen",
    )
    assert (count(demo_session, Case), count(demo_session, CaseEvent)) == (cases, events)
    assert count(demo_session, User) == users
    rerun = CliRunner().invoke(main, ["demo"], obj=demo.runtime)
    assert rerun.exit_code == 0, rerun.output
    assert "Demo data already loaded." in rerun.output
    assert "samordnare.vgr@demo.kflow.se" in rerun.output


def test_demo_is_deterministic(session: Session, settings: Settings) -> None:
    now = dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.UTC)
    attempt = session.begin_nested()
    load_demo(session, settings, now=now, password="another-password")
    first = snapshot(session)
    attempt.rollback()
    assert count(session, Case) == 0

    load_demo(session, settings, now=now)

    assert snapshot(session) == first


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 12, 28, 6, 0, tzinfo=dt.UTC),  # after Christmas
        dt.datetime(2027, 6, 28, 23, 30, tzinfo=dt.UTC),  # after midsommar; Stockholm's Tuesday
    ],
)
def test_demo_loads_whatever_the_day(
    session: Session, settings: Settings, now: dt.datetime
) -> None:
    load_demo(session, settings, now=now)

    found = states_by_type(session)
    assert all(found[t] == set(m.state_names) for t, m in MACHINES.items())
    assert session.scalar(select(func.max(CaseEvent.at))) < now


def test_demo_refuses_a_short_password(session: Session, settings: Settings) -> None:
    with pytest.raises(ValidationError):
        load_demo(session, settings, password="short")
    assert count(session, User) == 0
