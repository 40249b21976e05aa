"""Case pages (/arenden/<id>) for all four case types, and the forms that act on them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from kflow.cases.models import (
    Case,
    FollowUpReport,
    IndicatorList,
    KnowledgeSupport,
    LocalImplementation,
    RegionalAdaptation,
)
from kflow.engine import fire as engine
from kflow.engine.read import case_to_fire, readable_case
from kflow.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    KflowError,
    NotFound,
    ValidationError,
)
from kflow.followup import indicators, periods, rights
from kflow.followup import measurements as followup
from kflow.followup.attainment import STATUS_SYMBOLS
from kflow.followup.models import AGGREGATIONS, SOURCES
from kflow.queries import case_results, consultation, targets
from kflow.queries import casepage as page_queries
from kflow.queries import followup as followup_queries
from kflow.queries import history as case_history
from kflow.queries import lists as case_lists
from kflow.queries import reports as report_queries
from kflow.queries import units as unit_queries
from kflow.states import MACHINES
from kflow.states import local_implementation as li_states
from kflow.states.base import CaseType, Trigger
from kflow.web import boundary
from kflow.web.ui import basis_page, casepage, diagram, field_errors
from kflow.web.ui.base import authority, install
from kflow.web.ui.forms import (
    build_actions,
    is_number,
    lock_version_from,
    params_from,
    require_confirmation,
)
from kflow.web.ui.labels import CONFLICT_MESSAGE, DIRECTION_LABELS, humanize, sorted_regions, today
from kflow.web.ui.spreadsheet import csv_download

bp = Blueprint("cases", __name__)
install(bp)

RETURN_TO_INBOX = "inkorg"
OLDEST_FIRST = "aldst"  # ?historik=aldst: the timeline oldest first (newest first by default)


def render_case(
    case: Case,
    *,
    error: str | None = None,
    status: int = 200,
    submitted: tuple[str, MultiDict[str, str]] | None = None,
    measurement_form: MultiDict[str, str] | None = None,
    field_messages: dict[str, str] | None = None,
) -> Any:
    session = boundary.session()
    auth = authority()
    day = today()
    machine = MACHINES[case.type]
    ks = page_queries.knowledge_support_of(session, case)
    units = unit_queries.by_id(
        session, (case.owner_id, case.assignee_id, case.region_id, case.recipient_id)
    )
    auth.prefetch_cases([case], [ks.owner_id] if ks else [])
    oldest_first = request.args.get("historik") == OLDEST_FIRST
    timeline, history_total = casepage.timeline(session, case, newest_first=not oldest_first)
    context: dict[str, Any] = {
        "case": case,
        "machine": machine,
        "ks": ks,
        "heading": casepage.heading(case, units),
        "facts": casepage.facts(case, units, ks, day, boundary.runtime().settings.timezone),
        "diagram": diagram.render(case.type, case.state),
        "notes": diagram.note_texts(case.type),
        "lifecycle_text": diagram.describe(case.type),
        "actions": build_actions(session, auth, case, day, submitted),
        "timeline": timeline,
        "history_total": history_total,
        "oldest_first": oldest_first,
        "error": error,
        "number": casepage.number,
        "status_symbols": STATUS_SYMBOLS,
    }
    if submitted and field_messages:
        field_errors.apply(context["actions"], submitted[0], field_messages)
    if isinstance(case, KnowledgeSupport):
        regions = sorted_regions(case_lists.regions(session))
        context["regions"] = rows = page_queries.region_rows(session, auth, case, regions, day)
        context["regions_hidden"] = any(row.hidden for row in rows)
        context["indicators"] = page_queries.indicators_of(session, case.id)
        context["directions"] = DIRECTION_LABELS
        context["indicator_sources"] = SOURCES
        context["indicator_aggregations"] = AGGREGATIONS
        context["can_define_indicators"] = case.is_open and bool(
            set(indicators.DEFINE_ROLES) & auth.case_roles(case)
        )
        context["results"] = case_results.of_knowledge_support(
            session, auth, case.id, day, tolerance_pct=_tolerance()
        )
        summary_readable = consultation.may_read(auth, case)
        context["consultation_summary"] = bool(case.consultation_round) and summary_readable
    elif isinstance(case, IndicatorList):
        period = request.args.get("period", "")
        if not period_is_valid(period):
            period = targets.default_period(day)
        context["period"] = period
        context["targets"] = targets.rows(session, case, period, _tolerance())
        context["status_symbols"] = STATUS_SYMBOLS
    elif isinstance(case, FollowUpReport):
        context["report"] = report_queries.report_page(session, auth, case, day)
    elif isinstance(case, RegionalAdaptation):
        assert ks is not None
        local = page_queries.implementations(session, auth, case, ks, day)
        context["implementations"] = local.shown
        context["other_implementations"] = local.others
        context["parents"] = [page_queries.related(auth, ks, ks.title, ks.owner_id, day)]
    else:
        assert ks is not None
        context["parents"] = page_queries.parent_links(session, auth, case, ks, day)
    if isinstance(case, LocalImplementation):
        assert ks is not None
        context["measurements"] = followup_queries.of_case(session, case)
        context["unit_results"] = case_results.of_unit(
            session, ks.id, case.owner_id, case.region_id, day, tolerance_pct=_tolerance()
        )
        if _may_report(auth, case) and case.state in {str(s) for s in li_states.MEASURING}:
            context["measurement_indicators"] = page_queries.indicators_of(session, ks.id)
            context["measurement_form"] = measurement_form or MultiDict()
    context.update(basis_page.context(session, auth, case, ks, context))
    return render_template("ui/case.html", **context), status


def _tolerance() -> float:
    """The default tolerance of goal attainment (followup.tolerance_pct)."""
    return boundary.runtime().settings.followup.tolerance_pct


def period_is_valid(text: str) -> bool:
    try:
        periods.parse(text)
    except KflowError:
        return False
    return True


@bp.get("/arenden/<int:case_id>")
def show(case_id: int) -> Any:
    case = readable_case(boundary.session(), authority(), case_id)
    return render_case(case)


@bp.get("/arenden/<int:case_id>/historik.csv")
def history_export(case_id: int) -> Any:
    """The case's whole history as CSV; for a knowledge support, that of its whole chain (every
    consultation response, adaptation and local implementation the user may read)."""
    session = boundary.session()
    auth = authority()
    case = readable_case(session, auth, case_id)
    if isinstance(case, KnowledgeSupport):
        rows = case_history.all_chain_history(session, auth, case)
    else:
        rows = case_history.all_history(session, case)
    tz = boundary.runtime().settings.timezone
    header, lines = casepage.history_table(session, rows, tz)
    return csv_download(f"historik-{case.id}.csv", header, lines)


def _message(error: KflowError, spec: Trigger | None, case: Case) -> str:
    if isinstance(error, Conflict):
        return CONFLICT_MESSAGE
    if spec is not None and isinstance(error, InvalidTransition):
        return (
            f"”{spec.label}” går inte att göra när ärendet är i läget ”{case.state_label}”. "
            "Någon kan redan ha gjort det."
        )
    if spec is not None and isinstance(error, Forbidden):
        return f"Du har inte behörighet att göra ”{spec.label}” i det här ärendet."
    return humanize(error.message, spec)


def _refused(
    case_id: int,
    error: KflowError,
    spec: Trigger | None,
    submitted: tuple[str, MultiDict[str, str]],
) -> Any:
    """The case as it is now, saying why the action was refused; its form filled in again as
    it was sent, unless the page was stale."""
    case = readable_case(boundary.session(), authority(), case_id)
    refill = None if isinstance(error, Conflict) else submitted
    message = _message(error, spec, case)
    fields = field_errors.of_error(error, spec, message) if refill else {}
    return render_case(
        case, error=message, status=error.status, submitted=refill, field_messages=fields
    )


@bp.post("/arenden/<int:case_id>/handling")
def fire(case_id: int) -> Any:
    session = boundary.session()
    auth = authority()
    row = case_to_fire(session, auth, case_id)
    form = request.form
    trigger = form.get("trigger", "")
    spec = MACHINES[row.type].triggers.get(trigger)
    boundary.version_guard(f"case:{row.id}", row.lock_version)  # the form's version guards it
    try:
        # A destructive trigger: the box must be ticked.
        require_confirmation(spec, form, auth.allowed_triggers(row))
        if trigger in auth.allowed_triggers(row):  # else the engine says why it may not
            field_errors.check(spec, row, form)  # every empty or malformed field at once
        lock_version = lock_version_from(form)
        if lock_version is None:
            raise ValidationError("Formuläret saknar ärendets version. Ladda om sidan.")
        fired = engine.fire(
            session,
            auth,
            row,
            trigger,
            settings=boundary.runtime().settings,
            comment=form.get("comment"),
            params=params_from(spec, form),
            lock_version=lock_version,
        )
    except KflowError as error:
        return boundary.refused(_refused, case_id, error, spec, (trigger, form))
    assert spec is not None
    moved = fired.case
    message = f"”{spec.label}” är gjort för ärende #{moved.id}. Läget är nu ”{moved.state_label}”."
    if "created" in fired.outcome:
        message += f" {fired.outcome['created']} lokala införanden skapades"
        if fired.outcome.get("skipped"):
            message += f" ({fired.outcome['skipped']} enheter hade redan ett pågående)"
        message += "."
    flash(message, "success")
    if form.get("tillbaka") == RETURN_TO_INBOX:
        return redirect(url_for("inbox.index"), 303)
    return redirect(url_for("cases.show", case_id=moved.id), 303)


def _may_report(auth: Any, case: Case) -> bool:
    """Whether to offer the measurement forms (kflow.followup.measurements decides)."""
    return bool(set(rights.REPORT_ROLES) & auth.case_roles(case)) or (
        rights.REGION_REPORT_ROLE in auth.roles_at(case.region_id)
    )


def _measured(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        name: form.get(name, "").strip() or None
        for name in ("value", "numerator", "denominator", "comment")
    }


@bp.post("/arenden/<int:case_id>/matvarde")
def report_measurement(case_id: int) -> Any:
    session = boundary.session()
    auth = authority()
    case = readable_case(session, auth, case_id, CaseType.LOCAL_IMPLEMENTATION)
    assert isinstance(case, LocalImplementation)
    form = request.form
    raw_indicator = form.get("indicator", "")
    try:
        followup.report_on_implementation(
            session,
            auth,
            case,
            settings=boundary.runtime().settings,
            indicator_id=int(raw_indicator) if is_number(raw_indicator) else None,
            period=form.get("period", "").strip(),
            **_measured(form),
        )
    except KflowError as error:
        return boundary.refused(_refused_measurement, case_id, error, form)
    flash("Mätvärdet är sparat.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="matvarden"), 303)


@bp.post("/arenden/<int:case_id>/matvarde/<int:measurement_id>/rattelse")
def correct_measurement(case_id: int, measurement_id: int) -> Any:
    session = boundary.session()
    auth = authority()
    case = readable_case(session, auth, case_id, CaseType.LOCAL_IMPLEMENTATION)
    form = request.form
    try:
        row = followup_queries.measurement(session, auth, measurement_id)
        if row.measurement.case_id != case.id:
            raise NotFound("Mätvärdet hör inte till det här ärendet.")
        followup.correct(
            session,
            auth,
            row.measurement,
            settings=boundary.runtime().settings,
            **_measured(form),
        )
    except KflowError as error:
        return boundary.refused(_refused_measurement, case_id, error, form)
    flash("Rättelsen är sparad. Det tidigare värdet finns kvar, överstruket.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="matvarden"), 303)


MEASUREMENT_LABELS = (
    ("indicator", "Indikator"),
    ("period", "Period"),
    ("value", "Värde"),
    ("numerator", "Täljare"),
    ("denominator", "Nämnare"),
    ("comment", "Kommentar"),
)


def _refused_measurement(case_id: int, error: KflowError, form: MultiDict[str, str]) -> Any:
    case = readable_case(boundary.session(), authority(), case_id, "local_implementation")
    message = error.message
    for name, label in MEASUREMENT_LABELS:
        message = message.replace(f"{name} ", f"{label.lower()} ").replace(
            f"({name})", f"({label.lower()})"
        )
    message = message[0].upper() + message[1:]
    return render_case(case, error=message, status=error.status, measurement_form=form)
