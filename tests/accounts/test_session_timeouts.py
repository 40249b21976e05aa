"""Signed-in sessions rotate at sign-in, end when idle or too old, and end everywhere at once.

* Signing in starts a new session (a new row, a new cookie): a cookie from before sign-in, or
  from an earlier sign-in of the same browser, signs nobody in.
* A session without a request for ``login.idle_minutes`` ends, and so does every session
  ``login.absolute_hours`` after sign-in; the sign-in page says why. Its last use is written
  at most once a minute, after the request.
* "Logga ut överallt" (Mitt konto) ends every session of the user, the one it was asked in too.

The tests configure short limits (5 minutes idle, 1 hour in all) and move a session's clock by
moving its row's times back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kflow.accounts import signin
from kflow.accounts.events import AccountEventKind, history
from kflow.accounts.models import SignInSession
from kflow.config import Settings
from kflow.db import utcnow
from kflow.org import users as org_users
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.conftest import make_settings
from tests.support.ui_support import csrf_token, parse
from tests.support.world import PASSWORD, World

BROWSER = {"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Mozilla/5.0 (Test)"}
IDLE = dt.timedelta(minutes=5)
ABSOLUTE = dt.timedelta(hours=1)


@pytest.fixture
def settings() -> Settings:
    return make_settings(login={"idle_minutes": 5, "absolute_hours": 1})


@pytest.fixture
def app(runtime: Runtime, world: World) -> Flask:
    org_users.set_password(world.users["local-lead"], PASSWORD)
    world.session.flush()
    return create_app(runtime, {"WTF_CSRF_ENABLED": True, "TESTING": True})


def sign_in(client: FlaskClient) -> None:
    page = client.get("/login", environ_base=BROWSER, follow_redirects=True)
    form = {"email": "local-lead@test.se", "password": PASSWORD}
    form["csrf_token"] = csrf_token(page.text)
    assert client.post("/login", data=form, environ_base=BROWSER).status_code == 303


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def inbox(client: FlaskClient) -> int:
    return client.get("/", environ_base=BROWSER).status_code


def rows(world: World) -> list[SignInSession]:
    world.session.expire_all()
    user_id = world.users["local-lead"].id
    query = select(SignInSession).where(SignInSession.user_id == user_id)
    return list(world.session.scalars(query.order_by(SignInSession.id)))


def only_open(world: World) -> SignInSession:
    found = [row for row in rows(world) if row.ended_at is None]
    assert len(found) == 1, found
    return found[0]


def move_back(world: World, row: SignInSession, **times: dt.timedelta) -> None:
    for name, by in times.items():
        setattr(row, name, getattr(row, name) - by)
    world.session.flush()


def login_page_after(client: FlaskClient) -> str:
    response = client.get("/", environ_base=BROWSER)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"], environ_base=BROWSER)
    return parse(page.get_data(as_text=True)).find("main").text


def test_signing_in_rotates_the_session(app: Flask, world: World) -> None:
    browser = app.test_client()
    browser.get("/login", environ_base=BROWSER)
    before = cookie(browser)  # what an attacker might have planted in the browser
    sign_in(browser)
    first = cookie(browser)
    assert first != before
    assert inbox(with_cookie(app, before)) == 302  # the planted cookie signs nobody in
    assert inbox(with_cookie(app, first)) == 200
    sign_in(browser)  # again, in the same browser: a new session, the old one ends
    assert cookie(browser) != first
    earlier, now = rows(world)
    assert (earlier.end_reason, now.ended_at) == ("signed_in_again", None)
    assert inbox(with_cookie(app, first)) == 302
    assert inbox(browser) == 200


def test_an_idle_session_ends(app: Flask, world: World) -> None:
    browser = app.test_client()
    sign_in(browser)
    row = only_open(world)
    move_back(world, row, created_at=IDLE, last_seen_at=IDLE - dt.timedelta(seconds=30))
    assert inbox(browser) == 200  # 4½ minutes of quiet: still signed in, and seen now
    assert abs(only_open(world).last_seen_at - utcnow()) < dt.timedelta(seconds=30)
    move_back(world, row, created_at=IDLE, last_seen_at=IDLE + dt.timedelta(seconds=1))
    text = login_page_after(browser)
    assert "Du har loggats ut efter 5 minuters inaktivitet." in text
    assert rows(world)[0].end_reason == "idle"
    assert inbox(browser) == 302
    sign_in(browser)
    assert inbox(browser) == 200


def test_a_session_ends_at_its_absolute_lifetime(app: Flask, world: World) -> None:
    browser = app.test_client()
    sign_in(browser)
    row = only_open(world)
    move_back(world, row, created_at=ABSOLUTE - dt.timedelta(minutes=1))
    assert inbox(browser) == 200  # busy all along: the idle timeout never came
    move_back(world, row, created_at=dt.timedelta(minutes=2))
    assert "Din inloggning har gått ut" in login_page_after(browser)
    assert rows(world)[0].end_reason == "expired"


def test_the_last_use_is_written_at_most_once_a_minute(app: Flask, world: World) -> None:
    browser = app.test_client()
    sign_in(browser)
    row = only_open(world)
    move_back(world, row, last_seen_at=dt.timedelta(seconds=30))
    seen = only_open(world).last_seen_at
    assert inbox(browser) == 200
    assert only_open(world).last_seen_at == seen  # written less than a minute ago: kept
    move_back(world, row, last_seen_at=dt.timedelta(seconds=31))
    assert inbox(browser) == 200
    assert only_open(world).last_seen_at > seen


def test_resume_goes_by_the_clock_it_is_given(session: Any, world: World) -> None:
    user = world.users["local-lead"]
    start = utcnow()
    value = signin.start(session, user, "c" * 64, start)
    lifetime = signin.Lifetime(IDLE, ABSOLUTE)

    def at(later: dt.timedelta) -> object:
        return signin.resume(session, value, "c" * 64, lifetime, start + later)

    found = at(dt.timedelta(minutes=2))
    assert isinstance(found, signin.Resumed) and found.needs_touch
    assert isinstance(at(dt.timedelta(seconds=10)), signin.Resumed)
    assert not at(dt.timedelta(seconds=10)).needs_touch  # type: ignore[attr-defined]
    assert at(IDLE) == signin.TimedOut(found.session_id, signin.IDLE)
    signin.touch(session, found.session_id, start + dt.timedelta(minutes=58))
    assert isinstance(at(dt.timedelta(minutes=59)), signin.Resumed)
    assert at(ABSOLUTE) == signin.TimedOut(found.session_id, signin.EXPIRED)
    assert signin.resume(session, value, "d" * 64, lifetime, start) is None  # another client


def test_signing_out_everywhere_ends_every_session(app: Flask, world: World) -> None:
    here, there = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(there)
    page = here.get("/mitt-konto", environ_base=BROWSER)
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    done = here.post("/mitt-konto/logga-ut-overallt", data=form, environ_base=BROWSER)
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert inbox(here) == 302
    assert inbox(there) == 302
    assert {row.end_reason for row in rows(world)} == {"signed_out_everywhere"}
    events = history(world.session, world.users["local-lead"].id)
    assert events[0].kind == AccountEventKind.SIGNED_OUT_EVERYWHERE
    assert events[0].detail == {"sessions_ended": 2}
