"""Signing in and out with e-mail and password (Flask-Login, werkzeug scrypt hashes).

Sessions live in the database (kflow.accounts.signin): the cookie names one, signing out ends
it everywhere, and it is accepted only from the client that signed in, whose address is read
with the same trusted-proxy rule as the sign-in throttle's. Signing in reads the throttle and
the account in a short read transaction and checks the password outside any transaction; only
recording the outcome writes (so on SQLite a sign-in never holds the write lock while it
hashes).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask import session as cookie
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kflow.accounts import signin
from kflow.accounts.throttle import Throttle, client_address
from kflow.db import utcnow
from kflow.errors import NotFound
from kflow.org import users as org_users
from kflow.org.models import User
from kflow.web import boundary
from kflow.web.ui.base import install

bp = Blueprint("auth", __name__)
install(bp, login=False)

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Logga in för att se sidan."
login_manager.login_message_category = "info"
# Flask-Login's own protection reads X-Forwarded-For as the client sends it; kflow binds each
# session to its client itself (kflow.accounts.signin), with the trusted-proxy rule.
login_manager.session_protection = None

BAD_LOGIN = "Fel e-postadress eller lösenord."
# In app.extensions with single sign-on on: where signing out sends the browser (or None).
LOGOUT_AT_PROVIDER = "kflow.logout_at_provider"
PASSWORDS_OFF = "Inloggning med lösenord är avstängd i kflow. Logga in via inloggningstjänsten."


class LoginUser(UserMixin):  # type: ignore[misc]
    """The session's view of a user: the user and the database session (row) it signed in as."""

    def __init__(self, user: User, session_id: int, cookie_value: str) -> None:
        self.user = user
        self.session_id = session_id
        self.cookie_value = cookie_value

    def get_id(self) -> str:
        return self.cookie_value

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


def _address() -> str:
    settings = boundary.runtime().settings
    return client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        settings.login.trusted_proxies,
    )


def _client() -> str:
    secret = boundary.runtime().settings.secret_key
    return signin.client_hash(secret, _address(), request.headers.get("User-Agent"))


def load_user(cookie_value: str) -> LoginUser | None:
    login = boundary.runtime().settings.login
    now = utcnow()
    found = signin.resume(
        boundary.session(), cookie_value, _client(), signin.Lifetime.of(login), now
    )
    if isinstance(found, signin.TimedOut):
        _timed_out(found, now)
        return None
    if found is None:
        return None
    if found.needs_touch:  # at most once a minute, and never in the request's transaction
        session_id = found.session_id
        boundary.afterwards(
            f"last use of session {session_id}",
            lambda session: signin.touch(session, session_id, now),
        )
    return LoginUser(found.user, found.session_id, found.cookie_value)


login_manager.user_loader(load_user)

_TIMED_OUT = "kflow_timed_out"  # in g: why this request's session ended


def _timed_out(found: signin.TimedOut, now: dt.datetime) -> None:
    """A session that ran out: it ends (after the request: a GET only reads), the cookie
    forgets it, and the sign-in page says why."""
    boundary.afterwards(
        f"the end of session {found.session_id}",
        lambda session: signin.end(session, found.session_id, found.reason, now),
    )
    cookie.pop("_user_id", None)
    login = boundary.runtime().settings.login
    if found.reason == signin.IDLE:
        message = (
            f"Du har loggats ut efter {login.idle_minutes} minuters inaktivitet. "
            "Logga in igen för att fortsätta."
        )
    else:
        message = (
            f"Din inloggning har gått ut (den gäller högst {login.absolute_hours} timmar). "
            "Logga in igen för att fortsätta."
        )
    setattr(g, _TIMED_OUT, message)


def _login_message(message: str) -> str:
    """The message of the redirect to the sign-in page: why the session ended, if it ran out."""
    return str(g.get(_TIMED_OUT, message))


login_manager.localize_callback = _login_message


@functools.cache
def _dummy_hash() -> str:
    # Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong
    # password and response times do not reveal which accounts exist.
    return generate_password_hash("not a password, only a timing decoy")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (never another host or scheme), else None."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or _start_url(), 303)
        if _TIMED_OUT in g:  # the session ran out on this very page
            flash(_login_message(""), "info")
        return render_template("ui/login.html", email="", next_url=next_url, error=None)
    if not boundary.runtime().settings.login.passwords:  # [login] passwords = false
        page = render_template("ui/login.html", email="", next_url=next_url, error=PASSWORDS_OFF)
        return page, 403
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    throttle = _throttle(email)
    now = utcnow()
    # Read what the decision needs, then check the password outside any transaction.
    with boundary.reading() as read:
        wait = throttle.wait_seconds(read, now)
        user = _account(read, email) if wait <= 0 else None
    if wait > 0:
        # Refused before the password is looked at, the same whether the account exists.
        page = render_template(
            "ui/login.html", email=email, next_url=next_url, error=too_many(wait)
        )
        return page, 429, {"Retry-After": str(wait)}
    if user is not None and user.password_hash and user.is_active:
        ok = check_password_hash(user.password_hash, password)
    else:
        check_password_hash(_dummy_hash(), password)
        ok = False
    # Only now the request's own (writing) transaction: record the outcome.
    write = boundary.session()
    if not ok or user is None:
        throttle.failed(write, now)
        return render_template("ui/login.html", email=email, next_url=next_url, error=BAD_LOGIN)
    throttle.succeeded(write)
    earlier = signin.parse(cookie.get("_user_id"))
    if earlier is not None:  # signing in again ends the session this browser had
        signin.end(write, earlier[0], "signed_in_again", now)
    cookie_value = signin.start(write, user, _client(), now)
    cookie.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(LoginUser(user, int(cookie_value.partition(".")[0]), cookie_value))
    flash(f"Välkommen, {user.name}!", "success")
    return redirect(next_url or _start_url(), 303)


def _start_url() -> str:
    """The start page that fits the user's roles (kflow.web.ui.inbox.start_url)."""
    from kflow.web.ui.inbox import start_url

    return start_url()


def _account(session: Session, email: str) -> User | None:
    try:
        return org_users.user_by_email(session, email)
    except NotFound:
        return None


def _throttle(email: str, kind: str = "account") -> Throttle:
    settings = boundary.runtime().settings
    return Throttle.of(settings.login, settings.secret_key, email, _address(), kind)


def too_many(wait_seconds: int) -> str:
    minutes = max(1, math.ceil(wait_seconds / 60))
    when = "en minut" if minutes == 1 else f"{minutes} minuter"
    return (
        "För många misslyckade inloggningsförsök. Av säkerhetsskäl är inloggningen spärrad en "
        f"stund: vänta {when} och försök sedan igen."
    )


@bp.post("/logout")
def logout() -> Any:
    # Signed in through the provider: sign out there too (RP-initiated logout, registered by
    # kflow.web.ui.oidc), which then sends the browser back to the sign-in page.
    provider_logout = current_app.extensions.get(LOGOUT_AT_PROVIDER)
    at_provider = provider_logout() if provider_logout is not None else None
    if current_user.is_authenticated:
        signin.end(boundary.session(), current_user.session_id, "signed_out", utcnow())
    logout_user()
    cookie.clear()
    flash("Du är utloggad.", "success")
    return redirect(at_provider or url_for("auth.login"), 303)
