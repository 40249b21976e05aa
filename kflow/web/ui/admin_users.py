"""Administration of one account: its name and HSA-id, deactivating and activating it, a new
password, and its account history (kflow.accounts.lifecycle; each change is an account event).

Region administrators reach only users all of whose roles lie within their units.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from kflow.accounts import lifecycle
from kflow.errors import KflowError, NotFound, ValidationError
from kflow.org.models import User
from kflow.queries import accounts as account_queries
from kflow.web import boundary
from kflow.web.ui.admin import bp, form_error, scope

# Deactivating ends the person's work at once: the box must be ticked (no JavaScript).
CONFIRM_FIELD = "bekraftat"
CONFIRM_MISSING = "Kryssa i rutan för att bekräfta att kontot ska inaktiveras."


def _me() -> User:
    me: User = current_user.user
    return me


def _load(user_id: int) -> User:
    """The user, if this administrator manages them (404 / 403 otherwise)."""
    session = boundary.session()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Användaren finns inte.")
    scope().require_user(session, user)
    return user


def _user_page(
    user_id: int, error: str | None = None, status: int = 200, unconfirmed: bool = False
) -> Any:
    account = account_queries.account(boundary.session(), user_id)
    if account is None:
        raise NotFound("Användaren finns inte.")
    scope().require_user(boundary.session(), account.user)
    return render_template(
        "ui/admin/user.html",
        scope=scope(),
        account=account,
        user=account.user,
        me=_me(),
        form=request.form,
        error=error,
        unconfirmed=unconfirmed,
        confirm_missing=CONFIRM_MISSING,
    ), status


def _done(user: User, message: str) -> Any:
    flash(message, "success")
    return redirect(url_for("admin.user", user_id=user.id), 303)


@bp.get("/anvandare/<int:user_id>")
def user(user_id: int) -> Any:
    return _user_page(user_id)


@bp.post("/anvandare/<int:user_id>/uppgifter")
def edit_user(user_id: int) -> Any:
    session = boundary.session()
    try:
        user = _load(user_id)
        renamed = lifecycle.rename(session, user, request.form.get("name", ""), _me())
        hsa = lifecycle.set_hsa_id(session, user, request.form.get("hsa_id", ""), _me())
    except KflowError as error:
        return boundary.refused(_user_page, user_id, *form_error(error))
    if not (renamed or hsa):
        return _done(user, "Inget ändrades.")
    return _done(user, f"Uppgifterna för {user.email} är sparade.")


@bp.post("/anvandare/<int:user_id>/inaktivera")
def deactivate_user(user_id: int) -> Any:
    session = boundary.session()
    try:
        user = _load(user_id)
        if user.id != _me().id and user.is_active and request.form.get(CONFIRM_FIELD) != "ja":
            return boundary.refused(_user_page, user_id, CONFIRM_MISSING, 422, True)
        lifecycle.deactivate(session, user, _me())
    except KflowError as error:
        return boundary.refused(_user_page, user_id, *form_error(error))
    return _done(user, f"{user.email} är inaktiverad och utloggad överallt.")


@bp.post("/anvandare/<int:user_id>/aktivera")
def activate_user(user_id: int) -> Any:
    session = boundary.session()
    try:
        user = _load(user_id)
        lifecycle.activate(session, user, _me())
    except KflowError as error:
        return boundary.refused(_user_page, user_id, *form_error(error))
    return _done(user, f"{user.email} är aktiv igen och kan logga in.")


@bp.post("/anvandare/<int:user_id>/losenord")
def set_password(user_id: int) -> Any:
    session = boundary.session()
    try:
        user = _load(user_id)
        if not boundary.runtime().settings.login.passwords:
            raise NotFound("Lösenord används inte i kflow: personen loggar in via SSO.")
        password = request.form.get("password", "")
        if not password:
            raise ValidationError("Ange ett lösenord (minst 8 tecken).")
        lifecycle.set_password(session, user, password, _me())
    except KflowError as error:
        return boundary.refused(_user_page, user_id, *form_error(error))
    return _done(user, f"{user.email} har ett nytt lösenord och är utloggad överallt.")
