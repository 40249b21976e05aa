"""Översikt: knowledge supports × the 21 regions as a heatmap, filtered by owner, kind, state,
free text and the user's region or unit (remembered, kflow.web.ui.scope); those never published
folded away below it; CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from kflow import paging
from kflow.paging import Page
from kflow.queries import lists as case_lists
from kflow.queries import matrix, places, results
from kflow.queries import overview as overview_data
from kflow.queries import units as unit_queries
from kflow.states import MACHINES
from kflow.states import knowledge_support as ks_states
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.ui import labels, scope
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today
from kflow.web.ui.spreadsheet import csv_download

bp = Blueprint("overview", __name__)
install(bp)

PAGE_SIZE = 50
FILTERS = ("owner", "kind", "state")
UNPUBLISHED_SHOWN = 100


def _filters(args: MultiDict[str, str]) -> dict[str, str | None]:
    found = {name: (args.get(name) or "").strip() or None for name in FILTERS}
    found["search"] = places.search_text(args.get("q"))
    return found


def _overview(filters: dict[str, str | None], **options: Any) -> Page:
    """A page of knowledge supports matching ``filters`` (see kflow.queries.overview)."""
    return overview_data.overview(
        boundary.session(),
        owner=filters["owner"],
        kind=filters["kind"],
        state=filters["state"],
        search=filters["search"],
        **options,
    )


def _query(filters: dict[str, str | None], chosen: str) -> dict[str, str]:
    """The page's filters as URL parameters (for the pager and the export)."""
    out = {k: v for k, v in filters.items() if v and k != "search"}
    if filters.get("search"):
        out["q"] = str(filters["search"])
    return {**out, "scope": chosen}


@bp.get("/oversikt")
def index() -> Any:
    session = boundary.session()
    filters = _filters(request.args)
    chosen = scope.chosen(request.args)
    mine = scope.places_of_user()
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    within = list(mine.units) if chosen == scope.UNIT else None
    page = _overview(filters, published=True, units=within, limit=limit, offset=offset)
    unpublished = _overview(filters, published=False, limit=UNPUBLISHED_SHOWN)
    every_region = labels.sorted_regions(case_lists.regions(session))
    regions = every_region
    if chosen != scope.ALL and mine.has_region:
        regions = [r for r in every_region if r.id in mine.regions]
    rows = matrix.matrix(session, authority(), page.items, regions, today())
    goal_period = results.default_period(today())
    tolerance = boundary.runtime().settings.followup.tolerance_pct
    return render_template(
        "ui/overview.html",
        rows=rows,
        unpublished=unpublished,
        scopes=scope.SCOPES,
        scope=chosen,
        my_regions=set(mine.regions),
        has_region=mine.has_region,
        cell_texts=labels.cell_texts(),
        case_href=url_for("cases.show", case_id=0).removesuffix("0"),
        goals=overview_data.goals_met(session, page.items, goal_period, tolerance),
        goal_period=goal_period,
        regions=regions,
        region_label=labels.region_label,
        legend=labels.legend(),
        owners=unit_queries.national(session),
        kinds=ks_states.KINDS,
        states=MACHINES[CaseType.KNOWLEDGE_SUPPORT].state_labels,
        filters=filters,
        query=_query(filters, chosen),
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
    first = _overview(filters, limit=paging.MAX_LIMIT, offset=0)

    def pages() -> Iterator[list[matrix.Row]]:
        yield matrix.matrix(session, auth, first.items, regions, day)
        offset = len(first.items)
        while offset < first.total:
            page = _overview(filters, limit=paging.MAX_LIMIT, offset=offset)
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
