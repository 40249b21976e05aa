"""The remissammanställning of a knowledge support (/arenden/<id>/remissammanstallning): the
regions' answers of a consultation round on one printable page, and as CSV and Excel.

Only for those who may read every answer (kflow.queries.consultation.may_read: the owning
NPO and above); anyone else gets the same 404 as for a case they may not read.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request

from kflow.cases.models import KnowledgeSupport
from kflow.engine.read import readable_case
from kflow.errors import NotFound
from kflow.followup.export import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from kflow.queries import consultation
from kflow.queries import lists as case_lists
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.ui.base import authority
from kflow.web.ui.cases import bp
from kflow.web.ui.forms import is_number
from kflow.web.ui.labels import sorted_regions

CHANNELS = {"remiss": "Remiss", "synpunktsinhamtning": "Synpunktsinhämtning"}


def _summary(case_id: int) -> tuple[KnowledgeSupport, consultation.Summary]:
    session = boundary.session()
    auth = authority()
    ks = readable_case(session, auth, case_id, CaseType.KNOWLEDGE_SUPPORT)
    assert isinstance(ks, KnowledgeSupport)
    if not ks.consultation_round or not consultation.may_read(auth, ks):
        raise NotFound("Det finns ingen remissammanställning för det här kunskapsstödet.")
    raw = request.args.get("omgang", "")
    number = int(raw) if is_number(raw) and 0 < int(raw) <= ks.consultation_round else None
    regions = sorted_regions(case_lists.regions(session))
    return ks, consultation.summary(session, ks, regions, number)


@bp.get("/arenden/<int:case_id>/remissammanstallning")
def consultation_summary(case_id: int) -> Any:
    ks, found = _summary(case_id)
    return render_template(
        "ui/remissammanstallning.html",
        ks=ks,
        summary=found,
        channel=CHANNELS.get(found.channel or "", found.channel or ""),
        rounds=list(range(1, (ks.consultation_round or 0) + 1)),
    )


def _download(case_id: int, suffix: str) -> tuple[str, list[list[str]]]:
    ks, found = _summary(case_id)
    rows = consultation.table(found.answers, boundary.runtime().settings.timezone)
    return f"remissammanstallning-{ks.id}-omgang-{found.round}.{suffix}", rows


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    if mimetype == CSV_MIMETYPE:
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/arenden/<int:case_id>/remissammanstallning.csv")
def consultation_summary_csv(case_id: int) -> Any:
    filename, rows = _download(case_id, "csv")
    return _attachment(csv_bytes(consultation.HEADER, rows), CSV_MIMETYPE, filename)


@bp.get("/arenden/<int:case_id>/remissammanstallning.xlsx")
def consultation_summary_xlsx(case_id: int) -> Any:
    filename, rows = _download(case_id, "xlsx")
    body = xlsx_bytes("Remissammanställning", consultation.HEADER, rows)
    return _attachment(body, XLSX_MIMETYPE, filename)
