""" "Glömt lösenord?": ask for a link by mail, then choose a new password with it
(kflow.accounts.passwords).

Asking answers the same page whether or not the address has an account, and is counted by the
sign-in throttle against the address asked for and the client's address (over the limit: 429
and ``Retry-After``, as signing in). The link's page holds its secret: it is stored by no cache
and, leaving it, no Referer tells another site. The form posts the secret in its body, not in
the address. Where kflow has no local passwords (``login.passwords`` false) these pages are 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_login import logout_user

from kflow.accounts import passwords
from kflow.db import utcnow
from kflow.mailing import password_reset
from kflow.org import users as org_users
from kflow.web import boundary
from kflow.web.ui import auth
from kflow.web.ui.base import install

bp = Blueprint("passwords", __name__)
install(bp, login=False)

FILL_IN_EMAIL = "Skriv din e-postadress."
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.before_request
def _only_with_passwords() -> None:
    if not boundary.runtime().settings.login.passwords:
        abort(404)


def _ask_page(email: str = "", error: str | None = None, status: int = 200) -> Any:
    return render_template("ui/forgot_password.html", email=email, error=error), status


@bp.get("/glomt-losenord")
def ask() -> Any:
    return _ask_page()


@bp.post("/glomt-losenord")
def send() -> Any:
    email = request.form.get("email", "").strip()[: org_users.MAX_EMAIL]
    if not email:
        return _ask_page(email, FILL_IN_EMAIL, 422)
    settings = boundary.runtime().settings
    throttle = auth._throttle(email, "reset")
    session, now = boundary.session(), utcnow()
    wait = throttle.wait_seconds(session, now)
    if wait > 0:
        page, status = _ask_page(email, auth.too_many(wait), 429)
        return page, status, {"Retry-After": str(wait)}
    throttle.failed(session, now)  # every request counts, whether the address is known
    user = auth._account(session, email)
    if passwords.may_reset(user):
        assert user is not None
        password_reset.send_link(session, settings, user, now)
    # The same answer either way: nothing tells whether the address has an account.
    minutes = settings.login.reset_link_minutes
    return render_template("ui/forgot_password_sent.html", email=email, minutes=minutes)


def _gone() -> Any:
    return render_template("ui/reset_link_gone.html"), 410, PRIVATE


def _choose_page(secret: str, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    page = render_template(
        "ui/reset_password.html",
        secret=secret,
        errors=errors or {},
        min_length=passwords.MIN_LENGTH,
    )
    return page, status, PRIVATE


@bp.get("/aterstall-losenord/<secret>")
def choose(secret: str) -> Any:
    try:
        passwords.link(boundary.session(), secret, utcnow())
    except passwords.LinkGone:
        return _gone()
    return _choose_page(secret)


@bp.post("/aterstall-losenord")
def reset() -> Any:
    secret = request.form.get("secret", "")
    form = request.form
    try:
        user = passwords.redeem(
            boundary.session(), secret, form.get("new", ""), form.get("repeat", ""), utcnow()
        )
    except passwords.LinkGone:
        return boundary.refused(_gone)
    except passwords.PasswordProblems as problems:
        return boundary.refused(_choose_page, secret, problems.fields, 422)
    auth._throttle(user.email).succeeded(boundary.session())  # a new password: start afresh
    logout_user()  # whoever was signed in in this browser: every session has ended
    cookie.clear()
    flash("Ditt nya lösenord är sparat. Logga in med det.", "success")
    return redirect(url_for("auth.login"), 303)
