"""The user's lifecycle (kflow.accounts.lifecycle): every change writes exactly one account
event, the history cannot be rewritten, deactivating ends sessions, tokens and reset links at
once, nobody deactivates themselves, and a region's administrator reaches only their people."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.accounts import calendar_feeds, events, lifecycle, signin
from kflow.accounts import tokens as api_tokens
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.models import AccountEvent, CalendarFeed, PasswordReset, SignInSession
from kflow.db import utcnow
from kflow.errors import Forbidden, NotFound, ValidationError
from kflow.org import users as org_users
from kflow.org.models import User
from kflow.queries import accounts as account_queries
from kflow.queries.admin import AdminScope
from tests.support.world import World


def kinds(session: Session, user: User) -> list[str]:
    session.flush()
    return [e.kind for e in events.history(session, user.id)]


def count_events(session: Session) -> int:
    session.flush()
    return session.scalar(select(func.count()).select_from(AccountEvent)) or 0


def ended(session: Session, cookies: list[str]) -> list[str | None]:
    """Why each cookie's session ended (None: it goes on)."""
    session.flush()
    session.expire_all()
    ids = [int(c.partition(".")[0]) for c in cookies]
    rows = session.execute(
        select(SignInSession.id, SignInSession.end_reason).where(SignInSession.id.in_(ids))
    )
    reasons = {row_id: reason for row_id, reason in rows}
    return [reasons[i] for i in ids]


def test_each_change_writes_exactly_one_event(session: Session, world: World) -> None:
    admin = world.users["admin"]
    user = lifecycle.create(session, "Ny@Test.se", "Ny Person", "hemligt-lösen", admin)
    steps = [
        (
            lambda: lifecycle.grant(session, user, "member", world.units["vgr"], admin),
            "role_granted",
        ),
        (lambda: lifecycle.rename(session, user, "Ny Persson", admin), "renamed"),
        (lambda: lifecycle.set_hsa_id(session, user, "se2321000131-e1", admin), "hsa_id_set"),
        (lambda: lifecycle.set_password(session, user, "nytt-lösenord", admin), "password_set"),
        (lambda: lifecycle.deactivate(session, user, admin), "deactivated"),
        (lambda: lifecycle.activate(session, user, events.CLI), "activated"),
        (
            lambda: lifecycle.revoke(session, user, "member", world.units["vgr"], admin),
            "role_revoked",
        ),
    ]
    assert kinds(session, user) == ["created"]
    for step, kind in steps:
        before = count_events(session)
        step()
        assert count_events(session) == before + 1, kind
        assert kinds(session, user)[0] == kind
    assert user.name == "Ny Persson" and user.hsa_id == "SE2321000131-E1" and user.is_active
    history = events.history(session, user.id)
    assert history[0].detail == {
        "role": "member",
        "unit": "vgr",
        "unit_name": "Västra Götalandsregionen",
    }
    assert {e.actor for e in history} == {"admin@test.se", "cli"}
    assert all(e.actor_id == admin.id for e in history if e.actor == "admin@test.se")
    renamed = [e.detail for e in history if e.kind == Kind.RENAMED]
    assert renamed == [{"old": "Ny Person", "new": "Ny Persson"}]


def test_no_change_no_event(session: Session, world: World) -> None:
    admin, user = world.users["admin"], world.users["nobody"]
    before = count_events(session)
    assert lifecycle.rename(session, user, f"  {user.name} ", admin) is False
    assert lifecycle.set_hsa_id(session, user, "", admin) is False
    lifecycle.grant(session, user, "viewer", world.units["vgr"], admin)
    session.flush()
    lifecycle.grant(session, user, "viewer", world.units["vgr"], admin)  # held already
    assert count_events(session) == before + 1


def test_refused_changes_write_nothing(session: Session, world: World) -> None:
    admin, user = world.users["admin"], world.users["nobody"]
    before = count_events(session)
    with pytest.raises(ValidationError):
        lifecycle.rename(session, user, "   ", admin)
    with pytest.raises(ValidationError):
        lifecycle.rename(session, user, "x" * 201, admin)
    with pytest.raises(ValidationError, match="HSA-id"):
        lifecycle.set_hsa_id(session, user, "not an id", admin)
    lifecycle.set_hsa_id(session, world.users["npo-chair"], "SE2321000131-E0001", admin)
    with pytest.raises(ValidationError, match="annan användare"):
        lifecycle.set_hsa_id(session, user, "SE2321000131-E0001", admin)
    with pytest.raises(ValidationError, match="minst 8"):
        lifecycle.set_password(session, user, "kort", admin)
    with pytest.raises(ValidationError, match="redan aktiv"):
        lifecycle.activate(session, user, admin)
    with pytest.raises(NotFound):
        lifecycle.revoke(session, user, "member", world.units["vgr"], admin)
    with pytest.raises(ValidationError):
        lifecycle.create(session, "admin@test.se", "Dubblett", None, admin)
    assert count_events(session) == before + 1  # the one HSA-id set


@pytest.mark.parametrize(
    "statement",
    ["UPDATE account_events SET actor = 'someone else'", "DELETE FROM account_events"],
)
def test_the_history_refuses_update_and_delete(
    session: Session, world: World, statement: str
) -> None:
    lifecycle.rename(session, world.users["nobody"], "Någon", world.users["admin"])
    before = count_events(session)
    assert before >= 1
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
        session.execute(sa.text(statement))
    assert count_events(session) == before
    assert session.scalar(select(func.count()).where(AccountEvent.actor == "someone else")) == 0


def test_the_history_refuses_truncate_on_postgresql(session: Session, world: World) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (a DELETE without WHERE is refused above)")
    lifecycle.rename(session, world.users["nobody"], "Någon", world.users["admin"])
    before = count_events(session)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
        session.execute(sa.text("TRUNCATE account_events"))
    assert count_events(session) == before


def test_deactivating_ends_sessions_tokens_and_reset_links(session: Session, world: World) -> None:
    user, admin = world.users["local-lead"], world.users["admin"]
    now = utcnow()
    cookies = [signin.start(session, user, "client", now) for _ in range(2)]
    other = signin.start(session, world.users["local-member"], "client", now)
    _, plain = api_tokens.create_token(session, user, "skript")
    calendar_feeds.create(session, user.id)
    session.add(
        PasswordReset(user_id=user.id, token_hash="a" * 64, expires_at=now + dt.timedelta(hours=1))
    )
    session.flush()
    assert ended(session, [*cookies, other]) == [None, None, None]
    lifecycle.deactivate(session, user, admin, now)
    session.flush()
    assert ended(session, [*cookies, other]) == ["deactivated", "deactivated", None]
    assert api_tokens.authenticate(session, plain) is None
    assert session.scalar(select(PasswordReset.used_at).where(PasswordReset.user_id == user.id))
    feed = select(CalendarFeed.revoked_at).where(CalendarFeed.user_id == user.id)
    assert session.scalar(feed) is not None
    history = events.history(session, user.id)
    assert history[0].kind == Kind.DEACTIVATED
    assert history[0].detail == {"sessions_ended": 2, "tokens_revoked": 1}
    # Reactivated, the user signs in afresh; the old sessions and token stay ended.
    lifecycle.activate(session, user, admin)
    session.flush()
    assert ended(session, cookies) == ["deactivated", "deactivated"]
    assert api_tokens.authenticate(session, plain) is None
    lifecycle.deactivate(session, world.users["nobody"], admin)
    with pytest.raises(ValidationError, match="redan inaktiverad"):
        lifecycle.deactivate(session, world.users["nobody"], admin)


def test_a_new_password_ends_every_session(session: Session, world: World) -> None:
    user = world.users["local-lead"]
    cookie = signin.start(session, user, "client", utcnow())
    assert lifecycle.set_password(session, user, "ett-nytt-lösen", events.CLI) == 1
    session.flush()
    assert ended(session, [cookie]) == ["password_set"]
    assert org_users.user_by_email(session, "local-lead@test.se").password_hash


def test_nobody_deactivates_or_resets_themselves(session: Session, world: World) -> None:
    admin = world.users["admin"]
    with pytest.raises(Forbidden, match="ditt eget konto"):
        lifecycle.deactivate(session, admin, admin)
    with pytest.raises(Forbidden, match="Mitt konto"):
        lifecycle.set_password(session, admin, "ett-nytt-lösen", admin)
    assert admin.is_active
    assert Kind.DEACTIVATED not in kinds(session, admin)


def test_a_region_admin_reaches_only_their_people(session: Session, world: World) -> None:
    scope = AdminScope.of(session, world.authority("vgr-admin"))
    scope.require_user(session, world.users["local-lead"])
    scope.require_user(session, world.users["nobody"])  # no roles: anyone's to manage
    for outside in ("skane-coordinator", "npo-chair", "admin"):
        with pytest.raises(Forbidden):
            scope.require_user(session, world.users[outside])
    root = AdminScope.of(session, world.authority("admin"))
    root.require_user(session, world.users["skane-coordinator"])


def test_the_account_read_model_names_actors_in_swedish(session: Session, world: World) -> None:
    user, admin = world.users["nobody"], world.users["admin"]
    lifecycle.grant(session, user, "local_lead", world.units["vgr-psyk-1"], admin)
    lifecycle.rename(session, user, "Ny Namn", events.CLI)
    lifecycle.deactivate(session, user, events.SYSTEM)
    session.flush()
    account = account_queries.account(session, user.id)
    assert account is not None
    rows = [(r.label, r.detail, r.actor) for r in account.history]
    assert rows == [
        (
            "Kontot inaktiverades",
            "inga inloggningar avslutades, inga API-nycklar återkallades",
            "Systemet",
        ),
        ("Namnet ändrades", "Från Nobody till Ny Namn", "En driftansvarig (kommandoraden)"),
        ("Roll tilldelades", "Lokalt ansvarig i Psykiatri Göteborg", "Admin"),
    ]
    assert account.roles == [("Lokalt ansvarig", "Psykiatri Göteborg")]
    assert account_queries.account(session, 10**9) is None
