"""Administration of access: memberships (roles in units) and API tokens."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from kflow.accounts import lifecycle
from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.engine.authority import ADMIN
from kflow.errors import Forbidden, KflowError, NotFound
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import User
from kflow.org.roles import ROLE_LABELS, Role
from kflow.queries import admin as admin_queries
from kflow.queries import units as unit_queries
from kflow.web import boundary
from kflow.web.ui.admin import LIST_LIMIT, bp, form_error, scope, scoped_units

# Removing a role cannot be undone from the list: the row's box must be ticked (no JavaScript).
CONFIRM_FIELD = "bekraftat"
CONFIRM_MISSING = "Kryssa i rutan för att bekräfta att rollen ska tas bort."


def _memberships_page(
    error: str | None = None, status: int = 200, unconfirmed: int | None = None
) -> Any:
    units = scoped_units()
    return render_template(
        "ui/admin/memberships.html",
        scope=scope(),
        rows=admin_queries.memberships(boundary.session(), scope(), LIST_LIMIT),
        units=units,
        labels=unit_queries.labels(boundary.session(), units),
        roles=ROLE_LABELS,
        form=request.form,
        error=error,
        limit=LIST_LIMIT,
        unconfirmed=unconfirmed,
        confirm_missing=CONFIRM_MISSING,
    ), status


@bp.get("/behorigheter")
def memberships() -> Any:
    return _memberships_page()


@bp.post("/behorigheter")
def grant() -> Any:
    session = boundary.session()
    form = request.form
    try:
        user = org_users.user_by_email(session, form.get("email", ""))
        unit = org_units.unit_by_code(session, form.get("unit", ""))
        scope().require(unit.id)
        role = form.get("role", "")
        lifecycle.grant(session, user, role, unit, _me())
    except KflowError as error:
        return boundary.refused(_memberships_page, *form_error(error))
    flash(f"{user.email} är nu {ROLE_LABELS[Role(role)].lower()} i {unit.name}.", "success")
    return redirect(url_for("admin.memberships"), 303)


@bp.post("/behorigheter/<int:membership_id>/ta-bort")
def revoke(membership_id: int) -> Any:
    session = boundary.session()
    try:
        membership = admin_queries.membership(session, membership_id)
        if membership is None:
            raise NotFound("Behörigheten finns inte (längre).")
        scope().require(membership.unit_id)
        user, unit, role = membership.user, membership.unit, membership.role
        if role == ADMIN and user.id == _me().id:
            raise Forbidden("Du kan inte ta bort din egen administratörsroll.")
        if request.form.get(CONFIRM_FIELD) != "ja":
            return boundary.refused(_memberships_page, CONFIRM_MISSING, 422, membership_id)
        lifecycle.revoke(session, user, role, unit, _me())
    except KflowError as error:
        return boundary.refused(_memberships_page, error.message, error.status)
    flash(
        f"{user.email} är inte längre {ROLE_LABELS[Role(role)].lower()} i {unit.name}.", "success"
    )
    return redirect(url_for("admin.memberships"), 303)


def _me() -> User:
    me: User = current_user.user
    return me


def _tokens_page(
    error: str | None = None, status: int = 200, new_token: tuple[ApiToken, str] | None = None
) -> Any:
    response = (
        render_template(
            "ui/admin/tokens.html",
            scope=scope(),
            rows=admin_queries.tokens(boundary.session(), scope(), LIST_LIMIT),
            form=request.form,
            error=error,
            new_token=new_token,
            limit=LIST_LIMIT,
        ),
        status,
        {"Cache-Control": "no-store"},
    )
    return response


@bp.get("/api-nycklar")
def tokens() -> Any:
    return _tokens_page()


@bp.post("/api-nycklar")
def create_token() -> Any:
    session = boundary.session()
    form = request.form
    try:
        user = org_users.user_by_email(session, form.get("email", ""))
        scope().require_user(session, user)
        token, plain = api_tokens.create_token(
            session, user, form.get("name", "").strip()[:200], minted_by=_me()
        )
        session.flush()  # generate token.id and created_at for the page below
    except KflowError as error:
        return boundary.refused(_tokens_page, *form_error(error))
    # The token is shown once, in this response, never stored or put in the session cookie.
    # The boundary commits before the response leaves; if the commit fails, the page is
    # replaced by the error, so it never shows a token that never was.
    return _tokens_page(new_token=(token, plain))


@bp.post("/api-nycklar/<int:token_id>/aterkalla")
def revoke_token(token_id: int) -> Any:
    session = boundary.session()
    try:
        token = admin_queries.token(session, token_id)
        if token is None:
            raise NotFound("Nyckeln finns inte.")
        scope().require_user(session, token.user)
        api_tokens.revoke_token(session, token_id, _me())
    except KflowError as error:
        return boundary.refused(_tokens_page, error.message, error.status)
    flash(f"Nyckeln {token.prefix}… är återkallad.", "success")
    return redirect(url_for("admin.tokens"), 303)
