"""Försenade: every case the user may read whose due date has passed, grouped by knowledge
support with the people responsible, the most overdue first: where a coordinator sees which
regions and units lag behind. Filters (case type, free text, *Min region* / *Min enhet*,
remembered: kflow.web.ui.scope) and a CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from kflow import paging
from kflow.queries import overdue as overdue_list
from kflow.queries import overdue_groups, places
from kflow.queries.rows import case_rows
from kflow.states import MACHINES
from kflow.web import boundary
from kflow.web.ui import labels, scope
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today
from kflow.web.ui.spreadsheet import csv_download

bp = Blueprint("overdue", __name__)
install(bp)

PAGE_SIZE = 100
CSV_HEADER = [
    "Kunskapsstöd",
    "Ärende",
    "Ärendetyp",
    "Enhet",
    "Region",
    "Läge",
    "Förfallodag",
    "Dagar försenad",
    "Ansvariga",
]


def _filters(args: MultiDict[str, str], chosen: str) -> overdue_list.Filters:
    case_type = args.get("type", "")
    mine = scope.places_of_user()
    regions = mine.regions if chosen == scope.REGION and mine.has_region else None
    return overdue_list.Filters(
        case_type=case_type if case_type in MACHINES else None,
        regions=regions,
        units=mine.units if chosen == scope.UNIT else None,
        search=places.search_text(args.get("q")),
    )


def _query(filters: overdue_list.Filters, chosen: str) -> dict[str, str]:
    out = {"scope": chosen}
    if filters.case_type:
        out["type"] = filters.case_type
    if filters.search:
        out["q"] = filters.search
    return out


@bp.get("/forsenade")
def index() -> Any:
    session = boundary.session()
    auth = authority()
    day = today()
    chosen = scope.chosen(request.args)
    filters = _filters(request.args, chosen)
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    page = overdue_list.overdue(session, auth, day, filters=filters, limit=limit, offset=offset)
    rows = case_rows(session, auth, page.items, day)
    query = _query(filters, chosen)
    return render_template(
        "ui/overdue.html",
        groups=overdue_groups.grouped(session, rows),
        total=page.total,
        offset=offset,
        limit=limit,
        filters=filters,
        narrowed=len(query) > 1 or chosen != scope.ALL,
        query=query,
        scopes=scope.SCOPES,
        scope=chosen,
        has_region=scope.places_of_user().has_region,
        types={name: machine.label for name, machine in MACHINES.items()},
    )


@bp.get("/forsenade.csv")
def export() -> Response:
    """Every overdue case matching the filters (all pages), grouped as the page shows them."""
    session = boundary.session()
    auth = authority()
    day = today()
    filters = _filters(request.args, scope.chosen(request.args))

    def lines() -> Iterator[list[Any]]:
        offset = 0
        while True:
            page = overdue_list.overdue(
                session, auth, day, filters=filters, limit=paging.MAX_LIMIT, offset=offset
            )
            rows = case_rows(session, auth, page.items, day)
            for group in overdue_groups.grouped(session, rows):
                for row in group.rows:
                    case = row.listed
                    yield [
                        group.title,
                        case.case.id,
                        case.type_label,
                        case.unit,
                        case.region or "",
                        case.state_label,
                        labels.date_text(case.case.due),
                        case.overdue_days,
                        ", ".join(row.responsible),
                    ]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break

    return csv_download("forsenade.csv", CSV_HEADER, lines())
