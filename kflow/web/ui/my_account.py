"""*Mitt konto*: the signed-in user's own account. Who they are and their roles, their API
tokens (made here, shown once), the calendar feed (its forms post to kflow.web.ui.
calendar_feed), a new password, "Logga ut överallt" and the account's history.

Every page here is personal: none is stored by a cache (``Cache-Control: no-store``), above
all not the one that shows a new token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_login import current_user, logout_user

from kflow.accounts import passwords, signin
from kflow.accounts import tokens as api_tokens
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.events import record
from kflow.accounts.models import ApiToken
from kflow.db import utcnow
from kflow.errors import KflowError
from kflow.org.models import User
from kflow.queries.my_account import my_account
from kflow.web import boundary
from kflow.web.ui import auth
from kflow.web.ui.base import install

bp = Blueprint("account", __name__)
install(bp)

NO_STORE = {"Cache-Control": "no-store"}


def _me() -> User:
    me: User = current_user.user
    return me


def _passwords() -> bool:
    return boundary.runtime().settings.login.passwords


def _page(
    error: str | None = None,
    status: int = 200,
    new_token: tuple[ApiToken, str] | None = None,
    password_errors: dict[str, str] | None = None,
) -> Any:
    settings = boundary.runtime().settings
    mine = my_account(boundary.session(), _me().id, signin.Lifetime.of(settings.login), utcnow())
    page = render_template(
        "ui/my_account.html",
        mine=mine,
        user=mine.account.user,
        error=error,
        new_token=new_token,
        token_name="" if new_token else request.form.get("name", ""),
        password_errors=password_errors or {},
        passwords=_passwords(),
        login=settings.login,
    )
    return page, status, NO_STORE


@bp.get("/mitt-konto")
def index() -> Any:
    return _page()


@bp.post("/mitt-konto/api-nycklar")
def create_token() -> Any:
    try:
        token, plain = api_tokens.create_own(boundary.session(), _me(), request.form.get("name"))
    except KflowError as error:
        return boundary.refused(_page, error.message, error.status)
    # Shown once, in this response (committed before it leaves), never stored in clear.
    return _page(new_token=(token, plain))


@bp.post("/mitt-konto/api-nycklar/<int:token_id>/aterkalla")
def revoke_token(token_id: int) -> Any:
    try:
        api_tokens.revoke_own(boundary.session(), _me(), token_id)
    except KflowError as error:
        return boundary.refused(_page, error.message, error.status)
    flash("API-nyckeln är återkallad. Den fungerar inte längre.", "success")
    return redirect(url_for("account.index") + "#api-nycklar", 303)


@bp.post("/mitt-konto/losenord")
def change_password() -> Any:
    me, form, now = _me(), request.form, utcnow()
    if not _passwords() or not me.password_hash:  # no local passwords, or none of one's own
        abort(404)
    session = boundary.session()
    throttle = auth._throttle(me.email)
    wait = throttle.wait_seconds(session, now)
    if wait > 0:
        page = boundary.refused(_page, auth.too_many(wait), 429)
        return page[0], page[1], {**page[2], "Retry-After": str(wait)}
    current = form.get("current", "")
    if not current:
        return boundary.refused(_page, None, 422, None, {"current": passwords.FILL_IN_CURRENT})
    if not passwords.current_is(me, current):
        # Counted like a failed sign-in, in a transaction of its own (this one is undone).
        boundary.afterwards("a failed password check", lambda s: throttle.failed(s, now))
        return boundary.refused(_page, None, 422, None, {"current": passwords.WRONG_CURRENT})
    try:
        ended = passwords.change(
            session, me, form.get("new", ""), form.get("repeat", ""), current_user.session_id, now
        )
    except passwords.PasswordProblems as problems:
        return boundary.refused(_page, None, 422, None, problems.fields)
    throttle.succeeded(session)
    elsewhere = " Du är utloggad på alla andra ställen." if ended else ""
    flash(f"Ditt lösenord är bytt.{elsewhere}", "success")
    return redirect(url_for("account.index"), 303)


@bp.post("/mitt-konto/logga-ut-overallt")
def sign_out_everywhere() -> Any:
    me, now = _me(), utcnow()
    session = boundary.session()
    ended = signin.end_all(session, me.id, "signed_out_everywhere", now)
    record(session, me, Kind.SIGNED_OUT_EVERYWHERE, me, {"sessions_ended": ended}, at=now)
    logout_user()
    cookie.clear()
    flash("Du är utloggad överallt, även här.", "success")
    return redirect(url_for("auth.login"), 303)
