"""Signed-in sessions that end, bound to their client, and sign-in that never holds a lock.

* Signing out ends the session wherever its cookie was copied (the session is a row in the
  database, ended at sign-out); a changed password or a deactivated user ends it too.
* A session is accepted only from the client that signed in, whose address is read with the
  same trusted-proxy rule as the sign-in throttle: a forged X-Forwarded-For does not pass.
* Signing in reads the throttle and the account in a short read transaction, checks the
  password outside any transaction, and writes only to record the outcome: while the password
  is being checked, another writer gets the SQLite write lock at once, and PostgreSQL has no
  transaction open for it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kflow.accounts.models import LoginFailure, SignInSession
from kflow.org import users as org_users
from kflow.org.models import User
from kflow.runtime import Runtime
from kflow.web import create_app
from kflow.web.ui import auth
from tests.support.processes import committed_world
from tests.support.ui_support import csrf_token
from tests.support.world import PASSWORD, World

VICTIM = {"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Mozilla/5.0 (Victim)"}


def sign_in(client: FlaskClient, who: str, **environ: Any) -> None:
    page = client.get("/login", environ_base=environ)
    answer = client.post(
        "/login",
        data={"email": f"{who}@test.se", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        environ_base=environ,
    )
    assert answer.status_code == 303, answer.text


def copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def inbox(client: FlaskClient, **environ: Any) -> int:
    return client.get("/", environ_base=environ).status_code


@pytest.fixture
def app(runtime: Runtime, world: World) -> Flask:
    org_users.set_password(world.users["local-lead"], PASSWORD)
    world.session.flush()
    return create_app(runtime, {"WTF_CSRF_ENABLED": True, "TESTING": True})


def test_signing_out_ends_every_copy_of_the_session(app: Flask) -> None:
    browser = app.test_client()
    sign_in(browser, "local-lead", **VICTIM)
    thief = copy_of(browser, app)
    assert inbox(thief, **VICTIM) == 200  # a copy works while the session lives
    page = browser.get("/", environ_base=VICTIM)
    browser.post("/logout", data={"csrf_token": csrf_token(page.text)}, environ_base=VICTIM)
    assert inbox(browser, **VICTIM) == 302
    assert inbox(thief, **VICTIM) == 302


def test_a_new_password_or_deactivation_ends_sessions(app: Flask, world: World) -> None:
    first, second = app.test_client(), app.test_client()
    sign_in(first, "local-lead", **VICTIM)
    sign_in(second, "local-lead", **VICTIM)
    org_users.set_password(world.users["local-lead"], "another-horse-battery")
    world.session.flush()
    assert inbox(first, **VICTIM) == 302
    org_users.set_password(world.users["local-lead"], PASSWORD)
    world.session.flush()
    sign_in(first, "local-lead", **VICTIM)
    assert inbox(first, **VICTIM) == 200
    world.users["local-lead"].is_active = False
    world.session.flush()
    assert inbox(first, **VICTIM) == 302


def test_a_forged_forwarded_for_does_not_pass_for_the_victim(app: Flask) -> None:
    browser = app.test_client()
    sign_in(browser, "local-lead", **VICTIM)
    thief = copy_of(browser, app)
    forged = {
        "REMOTE_ADDR": "203.0.113.66",
        "HTTP_USER_AGENT": VICTIM["HTTP_USER_AGENT"],
        "HTTP_X_FORWARDED_FOR": VICTIM["REMOTE_ADDR"],
    }
    assert inbox(thief, **forged) == 302
    assert inbox(browser, **VICTIM) == 200  # the victim's own session goes on


def test_behind_a_trusted_proxy_the_proxys_view_of_the_client_counts(
    runtime: Runtime, world: World
) -> None:
    org_users.set_password(world.users["local-lead"], PASSWORD)
    world.session.flush()
    rt = Runtime(
        runtime.settings.replace(
            login=dataclasses.replace(runtime.settings.login, trusted_proxies=1)
        ),
        runtime.engine,
        runtime.sessions,
    )
    app = create_app(rt, {"WTF_CSRF_ENABLED": True, "TESTING": True})
    proxy = "10.0.0.9"
    victim = {
        "REMOTE_ADDR": proxy,
        "HTTP_USER_AGENT": "Mozilla/5.0 (Victim)",
        "HTTP_X_FORWARDED_FOR": "198.51.100.20",
    }
    browser = app.test_client()
    sign_in(browser, "local-lead", **victim)
    assert inbox(browser, **victim) == 200
    # The attacker sends the victim's address; the proxy appends the attacker's own.
    thief = copy_of(browser, app)
    attack = {**victim, "HTTP_X_FORWARDED_FOR": "198.51.100.20, 203.0.113.66"}
    assert inbox(thief, **attack) == 302
    assert inbox(browser, **victim) == 200


def _open_transactions(engine: sa.Engine) -> list[str]:
    """What holds the database while a password is being checked: on SQLite, whether another
    writer can take the write lock at once; on PostgreSQL, the other sessions of this database
    with a transaction open."""
    if engine.dialect.name == "sqlite":
        probe = sa.create_engine(engine.url, connect_args={"timeout": 0})
        try:
            with probe.connect() as conn:
                dbapi = conn.connection.dbapi_connection
                assert dbapi is not None
                dbapi.isolation_level = None
                try:
                    dbapi.execute("BEGIN IMMEDIATE")
                except Exception as exc:  # "database is locked": a sign-in holds the write lock
                    return [str(exc)]
                dbapi.execute("ROLLBACK")
                return []
        finally:
            probe.dispose()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
        )
        return [state for (state,) in rows]


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
def test_sign_in_checks_the_password_outside_any_transaction(
    committed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    rt = committed_runtime
    with committed_world(rt) as world:
        org_users.set_password(world.users["local-lead"], PASSWORD)
    app = create_app(rt, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    held: list[list[str]] = []
    real_check = auth.check_password_hash

    def check_and_look(stored: str, given: str) -> bool:
        held.append(_open_transactions(rt.engine))
        return real_check(stored, given)

    monkeypatch.setattr(auth, "check_password_hash", check_and_look)
    client = app.test_client()
    answer = client.post("/login", data={"email": "local-lead@test.se", "password": password})
    assert held == [[]], held
    with rt.transaction(write=False) as s:
        user = s.scalar(select(User).where(User.email == "local-lead@test.se"))
        assert user is not None
        sessions = s.scalar(
            select(func.count()).select_from(SignInSession).where(SignInSession.user_id == user.id)
        )
        failures = s.scalar(select(func.count()).select_from(LoginFailure))
    if password == PASSWORD:
        assert answer.status_code == 303
        assert (sessions, failures) == (1, 0)
        assert client.get("/").status_code == 200
    else:
        assert answer.status_code == 200
        assert "Fel e-postadress eller lösenord." in answer.text
        assert (sessions, failures) == (0, 2)  # the account's and the address's
