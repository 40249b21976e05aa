"""Uppföljning (/uppfoljning): goal attainment per indicator and region (or a region's units),
with a chart per indicator, filters in a plain GET form, and CSV and Excel exports of the same
table (lifecycle.md §6.5). The data is kflow.queries.uppfoljning's; files kflow.followup.export's.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from kflow import paging
from kflow.errors import ValidationError
from kflow.followup import export
from kflow.queries import lists as case_lists
from kflow.queries import uppfoljning as data
from kflow.queries import uppfoljning_filters as filtering
from kflow.web import boundary
from kflow.web.ui import labels
from kflow.web.ui.base import authority, install
from kflow.web.ui.casepage import number

bp = Blueprint("uppfoljning", __name__)
install(bp)

PAGE_SIZE = 10
FILE_NAME = "uppfoljning"


def _read() -> tuple[filtering.Filters, list[str], list[Any]]:
    session = boundary.session()
    regions = labels.sorted_regions(case_lists.regions(session))
    filters, errors = filtering.parse(session, request.args, labels.today())
    return filters, errors, regions


def _tolerance() -> float:
    return boundary.runtime().settings.followup.tolerance_pct


@bp.get("/uppfoljning")
def index() -> Any:
    session = boundary.session()
    filters, errors, regions = _read()
    try:
        limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    except ValidationError:  # a hand-edited offset: the first page, and say so
        limit, offset = PAGE_SIZE, 0
        errors.append("Sidnumret gick inte att läsa; första sidan visas.")
    page = data.indicators(session, filters, limit, offset)
    blocks = data.blocks(
        session, authority(), filters, list(page.items), tolerance_pct=_tolerance()
    )
    html = render_template(
        "ui/uppfoljning.html",
        filters=filters,
        errors=errors,
        options=filtering.options(session, filters, regions),
        blocks=blocks,
        charts={b.indicator.id: Markup(b.chart) for b in blocks},  # noqa: S704 (escaped SVG)
        total=page.total,
        offset=offset,
        limit=limit,
        number=number,
        tolerance=_tolerance(),
    )
    return html, 422 if errors else 200


def _rows() -> tuple[filtering.Filters, list[list[Any]]]:
    session = boundary.session()
    filters, _, _ = _read()
    page = data.indicators(session, filters, paging.MAX_LIMIT, 0)
    blocks = data.blocks(
        session, authority(), filters, list(page.items), tolerance_pct=_tolerance()
    )
    return filters, data.table(blocks)


def _name(filters: filtering.Filters, suffix: str) -> str:
    where = f"-{filters.region.code}" if filters.region else ""
    return f"{FILE_NAME}-{filters.period.code}{where}.{suffix}"


@bp.get("/uppfoljning.csv")
def export_csv() -> Response:
    """What the page shows for the same filters (every page of indicators), as CSV."""
    filters, rows = _rows()
    return _download(export.csv_bytes(data.HEADER, rows), _name(filters, "csv"), "text/csv")


@bp.get("/uppfoljning.xlsx")
def export_xlsx() -> Response:
    """The same as an Excel workbook."""
    filters, rows = _rows()
    body = export.xlsx_bytes("Uppföljning", data.HEADER, rows)
    return _download(body, _name(filters, "xlsx"), export.XLSX_MIMETYPE)


def _download(body: bytes, filename: str, mimetype: str) -> Response:
    content_type = f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") else mimetype
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
