"""Översikt: knowledge supports × the 21 regions, filtered by owner, kind and state; CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from kflow import paging
from kflow.queries import lists as case_lists
from kflow.queries import matrix, results
from kflow.queries import overview as overview_data
from kflow.queries import units as unit_queries
from kflow.states import MACHINES
from kflow.states import knowledge_support as ks_states
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.ui import labels
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today
from kflow.web.ui.spreadsheet import csv_download

bp = Blueprint("overview", __name__)
install(bp)

PAGE_SIZE = 50
FILTERS = ("owner", "kind", "state")


def _filters(args: MultiDict[str, str]) -> dict[str, str | None]:
    return {name: (args.get(name) or "").strip() or None for name in FILTERS}


@bp.get("/oversikt")
def index() -> Any:
    session = boundary.session()
    filters = _filters(request.args)
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    page = overview_data.overview(session, **filters, limit=limit, offset=offset)
    regions = labels.sorted_regions(case_lists.regions(session))
    rows = matrix.matrix(session, authority(), page.items, regions, today())
    goal_period = results.default_period(today())
    tolerance = boundary.runtime().settings.followup.tolerance_pct
    return render_template(
        "ui/overview.html",
        rows=rows,
        goals=overview_data.goals_met(session, page.items, goal_period, tolerance),
        goal_period=goal_period,
        regions=regions,
        region_label=labels.region_label,
        adaptation_short=labels.adaptation_short,
        adaptation_label=labels.adaptation_label,
        legend=labels.legend(),
        owners=unit_queries.national(session),
        kinds=ks_states.KINDS,
        states=MACHINES[CaseType.KNOWLEDGE_SUPPORT].state_labels,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        total=page.total,
        offset=offset,
        limit=limit,
    )


@bp.get("/oversikt.csv")
def export() -> Response:
    """Every knowledge support matching the filters (all pages), as Swedish Excel reads CSV."""
    session = boundary.session()
    filters = _filters(request.args)
    regions = labels.sorted_regions(case_lists.regions(session))
    auth = authority()
    day = today()
    first = overview_data.overview(session, **filters, limit=paging.MAX_LIMIT, offset=0)

    def pages() -> Iterator[list[matrix.Row]]:
        yield matrix.matrix(session, auth, first.items, regions, day)
        offset = len(first.items)
        while offset < first.total:
            page = overview_data.overview(session, **filters, limit=paging.MAX_LIMIT, offset=offset)
            if not page.items:
                break
            yield matrix.matrix(session, auth, page.items, regions, day)
            offset += len(page.items)

    header = ["Ärende", "Kunskapsstöd", "Typ", "Ägare", "Läge"]
    for region in regions:
        header += [f"{region.name}: läge", f"{region.name}: lokala enheter klara (%)"]

    def lines() -> Iterator[list[Any]]:
        for rows in pages():
            for row in rows:
                line = [row.ks.id, row.ks.title, row.kind, row.owner, row.state]
                for cell in row.cells:
                    percent = cell.done_percent
                    line += [
                        labels.adaptation_label(cell.state),
                        "" if percent is None else percent,
                    ]
                yield line

    return csv_download("oversikt.csv", header, lines())
