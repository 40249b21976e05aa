"""Bulk Kvittera from Min inkorg: several local implementations acknowledged in one go.

Two POSTs, so it works without JavaScript: the inbox's form sends the ticked cases to a
confirmation page that lists them (it changes nothing); its button fires ``acknowledge`` on each
through the one engine (kflow.engine.fire), all in the request's transaction. If any is refused,
the boundary undoes the others and the page says which one and why: none is half-done.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from kflow.engine import fire as engine
from kflow.engine.read import case_to_fire
from kflow.errors import KflowError, NotFound, ValidationError
from kflow.queries.rows import case_rows
from kflow.queries.waiting import BULK_TRIGGER
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.ui.base import authority
from kflow.web.ui.inbox import bp
from kflow.web.ui.labels import today

MAX_CASES = 200
FIELD = "arende"


def _chosen() -> list[int]:
    """The ticked case ids, in order, each once."""
    ids: list[int] = []
    for raw in request.form.getlist(FIELD):
        if not raw.isdigit() or len(raw) > 12:
            raise ValidationError("Ett valt ärende har ett ogiltigt nummer. Ladda om inkorgen.")
        if int(raw) not in ids:
            ids.append(int(raw))
    if len(ids) > MAX_CASES:
        raise ValidationError(f"Välj högst {MAX_CASES} ärenden åt gången.")
    return ids


def _version(case_id: int) -> int:
    """The version of the case the confirmation page showed (a stale one is refused)."""
    raw = request.form.get(f"version-{case_id}", "")
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationError("Formuläret saknar ärendets version. Ladda om inkorgen.")
    return int(raw)


def _confirmation(ids: list[int], error: str | None = None, status: int = 200) -> Any:
    session = boundary.session()
    auth = authority()
    cases = []
    for case_id in ids:
        try:
            cases.append(case_to_fire(session, auth, case_id, CaseType.LOCAL_IMPLEMENTATION))
        except NotFound:
            continue  # gone from sight since the inbox was shown: not offered
    rows = case_rows(session, auth, cases, today())
    return render_template("ui/inbox_acknowledge.html", rows=rows, error=error), status


@bp.post("/inkorg/kvittera")
def confirm_acknowledge() -> Any:
    """The confirmation page: the ticked cases, and one button to acknowledge them all."""
    ids = _chosen()
    if not ids:
        flash("Välj de ärenden du vill kvittera genom att kryssa i dem.", "info")
        return redirect(url_for("inbox.index"), 303)
    return _confirmation(ids)


@bp.post("/inkorg/kvittera/bekrafta")
def acknowledge() -> Any:
    """Acknowledge every listed case, or none."""
    session = boundary.session()
    auth = authority()
    ids = _chosen()
    if not ids:
        return redirect(url_for("inbox.index"), 303)
    settings = boundary.runtime().settings
    for case_id in ids:
        try:
            case = case_to_fire(session, auth, case_id, CaseType.LOCAL_IMPLEMENTATION)
            boundary.version_guard(f"case:{case.id}", case.lock_version)
            engine.fire(
                session,
                auth,
                case,
                BULK_TRIGGER,
                settings=settings,
                lock_version=_version(case_id),
            )
        except KflowError as error:
            message = (
                f"Ärende #{case_id} kunde inte kvitteras: {error.message} "
                "Inget av ärendena kvitterades."
            )
            return boundary.refused(_confirmation, ids, message, error.status)
    flash(f"{len(ids)} {'ärende' if len(ids) == 1 else 'ärenden'} kvitterades.", "success")
    return redirect(url_for("inbox.index"), 303)
