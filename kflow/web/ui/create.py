"""Starting work nationally: a new knowledge support, and indicators on an existing one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from kflow.cases.models import KnowledgeSupport
from kflow.engine.create import CREATE_ROLES, create_knowledge_support
from kflow.engine.read import readable_case
from kflow.errors import KflowError
from kflow.followup import indicators
from kflow.org.models import Unit
from kflow.org.roles import NATIONAL_KINDS
from kflow.states import knowledge_support as ks_states
from kflow.web import db
from kflow.web.ui.base import authority, install

bp = Blueprint("create", __name__)
install(bp)

FIELD_LABELS = {
    "title": "Titel",
    "kind": "Typ",
    "owner": "Ägare",
    "description": "Beskrivning",
    "name": "Namn",
    "unit_of_measure": "Enhet",
    "target_value": "Målvärde",
    "direction": "Riktning",
}


def owners_for_current_user() -> list[Unit]:
    """National units where the user may create knowledge supports (chair or process lead)."""
    auth = authority()
    units = (
        db.session()
        .scalars(
            select(Unit).where(Unit.kind.in_([str(k) for k in NATIONAL_KINDS])).order_by(Unit.name)
        )
        .all()
    )
    auth.prefetch(u.id for u in units)
    return [u for u in units if set(CREATE_ROLES) & auth.roles_at(u.id)]


def can_create() -> bool:
    """Whether to offer "Nytt kunskapsstöd": one query, once per request.

    True when the user is chair or process lead in a national unit or in the root above them.
    """
    if "ui_can_create" not in g:
        auth = authority()
        places = {u for u, role in auth.memberships if role in CREATE_ROLES}
        kinds = [*(str(k) for k in NATIONAL_KINDS), "root"]
        g.ui_can_create = bool(places) and (
            db.session().scalar(
                select(Unit.id).where(Unit.id.in_(places), Unit.kind.in_(kinds)).limit(1)
            )
            is not None
        )
    return bool(g.ui_can_create)


def _field_message(message: str) -> str:
    for name, label in FIELD_LABELS.items():
        if message.startswith(f"{name} ") or message.startswith(f"{name}:"):
            return label + message[len(name) :]
    return message


@bp.route("/kunskapsstod/nytt", methods=["GET", "POST"])
def new() -> Any:
    owners = owners_for_current_user()
    form = request.form
    error = None
    if request.method == "POST":
        try:
            case = create_knowledge_support(
                db.session(),
                authority(),
                title=form.get("title", ""),
                kind=form.get("kind", ""),
                owner=form.get("owner", ""),
                description=form.get("description") or None,
            )
        except KflowError as exc:
            db.session().rollback()
            error = _field_message(exc.message)
            status = exc.status
        else:
            flash(f"Kunskapsstödet ”{case.title}” är skapat (#{case.id}).", "success")
            return redirect(url_for("cases.show", case_id=case.id), 303)
    else:
        status = 200 if owners else 403
        if not owners:
            error = (
                "Du har ingen roll som ordförande eller processledare i ett NPO, "
                "en NSG eller ett nationellt råd."
            )
    page = render_template(
        "ui/new_knowledge_support.html",
        owners=owners,
        kinds=ks_states.KINDS,
        form=form,
        error=error,
    )
    return page, status


@bp.post("/arenden/<int:case_id>/indikatorer")
def define_indicator(case_id: int) -> Any:
    from kflow.web.ui.cases import render_case

    session = db.session()
    auth = authority()
    case = readable_case(session, auth, case_id, "knowledge_support")
    assert isinstance(case, KnowledgeSupport)
    form = request.form
    try:
        indicators.define_indicator(
            session,
            auth,
            case,
            name=form.get("name", ""),
            unit_of_measure=form.get("unit_of_measure", ""),
            target_value=form.get("target_value") or None,
            direction=form.get("direction", "higher"),
        )
    except KflowError as exc:
        session.rollback()
        case = readable_case(session, auth, case_id, "knowledge_support")
        return render_case(case, error=_field_message(exc.message), status=exc.status)
    flash("Indikatorn är tillagd.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="indikatorer"), 303)
