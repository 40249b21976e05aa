"""Administration: units and users (memberships and API tokens are in admin_access.py).

Every page and action needs the admin role; admins of a region manage only what lies below it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from kflow.accounts import lifecycle
from kflow.errors import KflowError, NotFound, ValidationError
from kflow.org import units as org_units
from kflow.org.models import Unit
from kflow.org.roles import UNIT_KIND_LABELS, UnitKind
from kflow.org.subkinds import SUBKIND_KINDS, SUBKIND_LABELS, Subkind
from kflow.queries import admin as admin_queries
from kflow.queries import units as unit_queries
from kflow.queries.admin import AdminScope
from kflow.web import boundary
from kflow.web.ui.base import authority, install

bp = Blueprint("admin", __name__, url_prefix="/admin")
install(bp)

LIST_LIMIT = 500
PARENT_KINDS: dict[str, tuple[str, ...]] = {
    UnitKind.REGIONAL_GROUP: (UnitKind.REGION, UnitKind.HEALTHCARE_REGION, UnitKind.REGIONAL_GROUP),
    UnitKind.LOCAL_UNIT: (UnitKind.REGION, UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT),
    UnitKind.NAG: (UnitKind.NPO, UnitKind.NSG),
}


def scope() -> AdminScope:
    if "admin_scope" not in g:
        g.admin_scope = AdminScope.of(boundary.session(), authority())
    found: AdminScope = g.admin_scope
    return found


@bp.before_request
def _admins_only() -> None:
    scope()  # 403 for anyone without the admin role


def form_error(error: KflowError) -> tuple[str, int]:
    """A form's error message and status (a name that matches nothing is bad input: 422)."""
    return error.message, 422 if isinstance(error, NotFound) else error.status


def scoped_units(kinds: tuple[str, ...] | None = None) -> list[Unit]:
    return admin_queries.units(boundary.session(), scope(), LIST_LIMIT, kinds)


@bp.get("/")
def index() -> Any:
    sc = scope()
    counts = admin_queries.counts(boundary.session(), sc)
    return render_template("ui/admin/index.html", scope=sc, counts=counts)


def _units_page(error: str | None = None, status: int = 200) -> Any:
    sc = scope()
    session = boundary.session()
    parent_kinds = tuple({k for kind in sc.unit_kinds for k in PARENT_KINDS[kind]})
    parents = scoped_units(parent_kinds)
    return render_template(
        "ui/admin/units.html",
        scope=sc,
        rows=admin_queries.units_with_parents(session, sc, LIST_LIMIT),
        kinds=[(k, UNIT_KIND_LABELS[UnitKind(k)]) for k in sc.unit_kinds],
        kind_labels=UNIT_KIND_LABELS,
        subkinds=[
            (s, SUBKIND_LABELS[s], UNIT_KIND_LABELS[SUBKIND_KINDS[s]])
            for s in Subkind
            if SUBKIND_KINDS[s] in sc.unit_kinds
        ],
        subkind_labels=SUBKIND_LABELS,
        mirrorable=unit_queries.mirrorable(session),
        parents=parents,
        labels=unit_queries.labels(session, parents),
        form=request.form,
        error=error,
        limit=LIST_LIMIT,
    ), status


@bp.get("/enheter")
def units() -> Any:
    return _units_page()


@bp.post("/enheter")
def create_unit() -> Any:
    session = boundary.session()
    sc = scope()
    form = request.form
    try:
        kind = form.get("kind", "")
        if kind not in sc.unit_kinds:
            raise ValidationError("Välj en enhetstyp du får skapa.")
        parent = org_units.unit_by_code(session, form.get("parent", ""))
        sc.require(parent.id)
        unit = org_units.create_unit(
            session,
            form.get("code", "").strip(),
            form.get("name", ""),
            kind,
            parent,
            subkind=form.get("subkind") or None,
            mirrors=form.get("mirrors") or None,
        )
    except KflowError as error:
        return boundary.refused(_units_page, *form_error(error))
    flash(f"Enheten ”{unit.name}” ({unit.code}) är skapad under {parent.name}.", "success")
    return redirect(url_for("admin.units"), 303)


def _users_page(error: str | None = None, status: int = 200) -> Any:
    return render_template(
        "ui/admin/users.html",
        scope=scope(),
        users=admin_queries.users(boundary.session(), scope(), LIST_LIMIT),
        form=request.form,
        error=error,
        limit=LIST_LIMIT,
    ), status


@bp.get("/anvandare")
def users() -> Any:
    return _users_page()


@bp.post("/anvandare")
def create_user() -> Any:
    session = boundary.session()
    form = request.form
    passwords = boundary.runtime().settings.login.passwords
    password = form.get("password", "") if passwords else None  # else: single sign-on only
    try:
        if passwords and not password:
            raise ValidationError("Ange ett lösenord (minst 8 tecken).")
        user = lifecycle.create(
            session, form.get("email", ""), form.get("name", ""), password, current_user.user
        )
    except KflowError as error:
        return boundary.refused(_users_page, *form_error(error))
    flash(f"Användaren {user.email} är skapad. Ge den en roll under Behörigheter.", "success")
    return redirect(url_for("admin.user", user_id=user.id), 303)
