"""Signing in and out with e-mail and password (Flask-Login, werkzeug scrypt hashes)."""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from kflow.db import utcnow
from kflow.models import User
from kflow.services.login_throttle import Throttle, client_address
from kflow.web import db
from kflow.web.ui.base import install

bp = Blueprint("auth", __name__)
install(bp, login=False)

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Logga in för att se sidan."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

BAD_LOGIN = "Fel e-postadress eller lösenord."


class LoginUser(UserMixin):  # type: ignore[misc]
    """The session's view of a user. The id carries a tag of the password hash, so changing
    the password ends every other session."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{password_tag(self.user)}"

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


def password_tag(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def load_user(user_id: str) -> LoginUser | None:
    raw_id, _, tag = user_id.partition(":")
    if not raw_id.isdigit():
        return None
    user = db.session().get(User, int(raw_id))
    if user is None or not user.is_active or tag != password_tag(user):
        return None
    return LoginUser(user)


login_manager.user_loader(load_user)


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
    if current_user.is_authenticated:
        return redirect(next_url or url_for("inbox.index"), 303)
    email = ""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        throttle = _throttle(email)
        now = utcnow()
        wait = throttle.wait_seconds(db.session(), now)
        if wait > 0:
            # Refused before the password is looked at, the same whether the account exists.
            page = render_template(
                "ui/login.html", email=email, next_url=next_url, error=too_many(wait)
            )
            return page, 429, {"Retry-After": str(wait)}
        user = db.session().scalar(select(User).where(User.email == email.lower()))
        if user is not None and user.password_hash and user.is_active:
            ok = check_password_hash(user.password_hash, password)
        else:
            check_password_hash(_dummy_hash(), password)
            ok = False
        if ok and user is not None:
            throttle.succeeded(db.session())
            session.clear()  # a fresh session: nothing from before sign-in carries over
            login_user(LoginUser(user))
            flash(f"Välkommen, {user.name}!", "success")
            return redirect(next_url or url_for("inbox.index"), 303)
        throttle.failed(db.session(), now)
        error = BAD_LOGIN
    return render_template("ui/login.html", email=email, next_url=next_url, error=error)


def _throttle(email: str) -> Throttle:
    settings = db.runtime().settings
    address = client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        settings.login.trusted_proxies,
    )
    return Throttle.of(settings.login, settings.secret_key, email, address)


def too_many(wait_seconds: int) -> str:
    minutes = max(1, math.ceil(wait_seconds / 60))
    when = "en minut" if minutes == 1 else f"{minutes} minuter"
    return (
        "För många misslyckade inloggningsförsök. Av säkerhetsskäl är inloggningen spärrad en "
        f"stund: vänta {when} och försök sedan igen."
    )


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    session.clear()
    flash("Du är utloggad.", "success")
    return redirect(url_for("auth.login"), 303)
