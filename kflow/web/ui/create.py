"""Starting work nationally: a new knowledge support, and indicators on an existing one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from kflow.cases.models import KnowledgeSupport
from kflow.engine.create import CREATE_ROLES, create_knowledge_support
from kflow.engine.read import readable_case
from kflow.errors import KflowError
from kflow.followup import indicators
from kflow.org.models import Unit
from kflow.org.roles import NATIONAL_KINDS
from kflow.queries import units as unit_queries
from kflow.states import knowledge_support as ks_states
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.ui.base import authority, install
from kflow.web.ui.cases import render_case

bp = Blueprint("create", __name__)
install(bp)

FIELD_LABELS = {
    "title": "Titel",
    "kind": "Typ",
    "owner": "Ägare",
    "description": "Beskrivning",
    "document_url": "Länk till publicerat dokument",
    "name": "Namn",
    "unit_of_measure": "Måttenhet",
    "target_value": "Målvärde",
    "direction": "Riktning",
}


def owners_for_current_user() -> list[Unit]:
    """National units where the user may create knowledge supports (chair or process lead)."""
    auth = authority()
    units = unit_queries.national(boundary.session())
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
        g.ui_can_create = unit_queries.any_of_kinds(boundary.session(), places, kinds)
    return bool(g.ui_can_create)


def _field_message(message: str) -> str:
    for name, label in FIELD_LABELS.items():
        if message.startswith(f"{name} ") or message.startswith(f"{name}:"):
            return label + message[len(name) :]
    return message


@bp.route("/kunskapsstod/nytt", methods=["GET", "POST"])
def new() -> Any:
    owners = owners_for_current_user()
    if request.method == "GET":
        if owners:
            return _form_page(owners)
        return _form_page(
            owners,
            "Du har ingen roll som ordförande eller processledare i ett NPO, "
            "en NSG eller ett nationellt råd.",
            403,
        )
    form = request.form
    try:
        case = create_knowledge_support(
            boundary.session(),
            authority(),
            title=form.get("title", ""),
            kind=form.get("kind", ""),
            owner=form.get("owner", ""),
            description=form.get("description") or None,
            document_url=form.get("document_url") or None,
        )
    except KflowError as exc:
        return boundary.refused(_form_page, owners, _field_message(exc.message), exc.status)
    flash(f"Kunskapsstödet ”{case.title}” är skapat (#{case.id}).", "success")
    return redirect(url_for("cases.show", case_id=case.id), 303)


def _form_page(owners: list[Unit], error: str | None = None, status: int = 200) -> Any:
    page = render_template(
        "ui/new_knowledge_support.html",
        owners=owners,
        kinds=ks_states.KINDS,
        form=request.form,
        error=error,
    )
    return page, status


@bp.post("/arenden/<int:case_id>/indikatorer")
def define_indicator(case_id: int) -> Any:
    session = boundary.session()
    auth = authority()
    case = readable_case(session, auth, case_id, CaseType.KNOWLEDGE_SUPPORT)
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
            direction=form.get("direction", "higher_is_better"),
            code=form.get("code", "").strip() or None,
            source=form.get("source", "manuell"),
            aggregation=form.get("aggregation", "mean"),
        )
    except KflowError as exc:
        return boundary.refused(_indicator_refused, case_id, exc)
    flash("Indikatorn är tillagd.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="indikatorer"), 303)


def _indicator_refused(case_id: int, error: KflowError) -> Any:
    case = readable_case(boundary.session(), authority(), case_id, "knowledge_support")
    return render_case(case, error=_field_message(error.message), status=error.status)
