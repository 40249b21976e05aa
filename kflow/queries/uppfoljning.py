"""*Uppföljning* (lifecycle.md §6.5): per indicator, each region's (or, drilled down, each of a
region's local units') value, target and status in a period, the nation's beside them, and a
chart of the last periods; and the same table for the CSV and Excel exports.

Rows are results the viewer may read (kflow.queries.results.Reach); units whose results are
hidden are only counted. Values and statuses come from kflow.followup.attainment (one query
per indicator and level) and the chart's lines from kflow.followup.series (one query for the
whole page per level), never a query per period.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.followup import attainment, series
from kflow.followup.charts import Line, line_chart
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit
from kflow.paging import Page
from kflow.queries import units as unit_queries
from kflow.queries.results import NATION, Reach
from kflow.queries.uppfoljning_filters import Filters

TREND_SYMBOLS = {"up": "↑", "down": "↓", "same": "→"}


@dataclasses.dataclass(frozen=True)
class Row:
    unit_id: int | None  # None: the nation
    code: str | None
    name: str
    result: attainment.Result | None  # None: values in earlier periods only
    own_target: bool  # the unit's måltal in an approved indikatorlista, not the national one
    drill: bool  # a region whose local units one may open

    @property
    def status(self) -> str:
        return self.result.status if self.result else "no_data"

    @property
    def status_label(self) -> str:
        return attainment.STATUS_LABELS[self.status]

    @property
    def symbol(self) -> str:
        return attainment.STATUS_SYMBOLS[self.status]

    @property
    def trend(self) -> str:
        trend = self.result.trend if self.result else None
        return f"{TREND_SYMBOLS[trend]} {attainment.TREND_LABELS[trend]}" if trend else "–"


@dataclasses.dataclass
class Block:
    indicator: Indicator
    owner: str  # the knowledge support's title or the programme unit's name
    summary: list[Row]  # the nation (and, drilled down, the region)
    rows: list[Row]
    hidden: int  # units with values the viewer may not read
    periods: list[str]
    lines: list[Line]
    chart: str


def indicators(session: Session, filters: Filters, limit: int, offset: int) -> Page:
    """The indicators matching the filters with a measurement in the chart's periods."""
    # EXISTS, one probe of the current-value index an indicator: not every measurement of the
    # window (millions nationally) read to find the few indicators they belong to.
    measured = (
        select(Measurement.id)
        .where(
            Measurement.indicator_id == Indicator.id,
            Measurement.period.in_(filters.window),
            Measurement.superseded_at.is_(None),
        )
        .exists()
    )
    stmt = select(Indicator).where(measured)
    if filters.indicator_id is not None:
        stmt = stmt.where(Indicator.id == filters.indicator_id)
    if filters.ks_id is not None:
        stmt = stmt.where(Indicator.knowledge_support_id == filters.ks_id)
    if filters.npo is not None:
        npo = filters.npo.id
        owned = select(Case.id).where(Case.owner_id == npo)
        mirroring = select(Unit.id).where((Unit.mirrors_id == npo) | (Unit.id == npo))
        stmt = stmt.where(
            Indicator.knowledge_support_id.in_(owned) | Indicator.owner_unit_id.in_(mirroring)
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    found = session.scalars(stmt.order_by(Indicator.name, Indicator.id).limit(limit).offset(offset))
    return Page(list(found), total)


def blocks(
    session: Session,
    authority: Authority,
    filters: Filters,
    found: list[Indicator],
    *,
    tolerance_pct: float,
) -> list[Block]:
    if not found:
        return []
    ids = [i.id for i in found]
    window, period = filters.window, filters.period.code
    region = filters.region
    within = region.id if region else None
    points = _by_unit(series.series(session, ids, window, filters.level, within=within))
    points |= _by_unit(series.series(session, ids, window, "nation"))
    targets: dict[tuple[int, int | None], attainment.Result] = {}
    inside: set[int] = set()
    if region is not None:
        points |= _by_unit(series.series(session, ids, window, "region", within=region.id))
        for t in attainment.target_results(
            session, period, region_id=region.id, tolerance_pct=tolerance_pct
        ):
            targets.setdefault((t.indicator_id, t.unit_id), t)
        inside = {u.id for u in unit_queries.below(session, region.id, filters.level)}
    owners = _owners(session, found)
    out = []
    for indicator in found:
        reach = Reach(session, authority, indicator)

        def at(level: str, indicator: Indicator = indicator) -> dict[int | None, Any]:
            return {
                r.unit_id: r
                for r in attainment.level_results(
                    session, indicator.id, period, level, tolerance_pct=tolerance_pct
                )
            }

        current = at(filters.level)
        if region is not None:
            current = {u: r for u, r in current.items() if u in inside}
        candidates = set(current) | {u for (i, u) in points if i == indicator.id and u}
        candidates |= {u for (i, u) in targets if i == indicator.id}
        if region is not None:
            candidates &= inside
        shown = reach.units(candidates)
        names = unit_queries.by_id(session, shown | ({region.id} if region else set()))
        rows = [
            Row(
                u,
                names[u].code,
                names[u].name,
                targets.get((indicator.id, u)) or current.get(u),
                (indicator.id, u) in targets,
                drill=region is None,
            )
            for u in shown
        ]
        rows.sort(key=lambda r: r.name)
        summary = []
        if region is not None and reach.sees(region.id):
            result = at("region").get(region.id)
            summary.append(Row(region.id, region.code, region.name, result, False, False))
        if reach.everything:
            summary.append(Row(None, None, NATION, at("nation").get(None), False, False))
        lines = [
            Line(r.name, [points.get((indicator.id, r.unit_id), {}).get(p) for p in window])
            for r in summary + rows
        ]
        chart = line_chart(
            chart_id=f"diagram-{indicator.id}",
            title=f"{indicator.name} ({indicator.unit_of_measure}), {window[0]}–{window[-1]}",
            periods=window,
            lines=lines,
            target=indicator.target_value,
            unit=indicator.unit_of_measure,
        )
        hidden = len(candidates - shown)
        out.append(
            Block(
                indicator, owners.get(indicator.id, ""), summary, rows, hidden, window, lines, chart
            )
        )
    return out


def _by_unit(found: list[series.Point]) -> dict[tuple[int, int | None], dict[str, float | None]]:
    out: dict[tuple[int, int | None], dict[str, float | None]] = {}
    for p in found:
        out.setdefault((p.indicator_id, p.unit_id), {})[p.period] = p.value
    return out


def _owners(session: Session, found: list[Indicator]) -> dict[int, str]:
    supports = {i.knowledge_support_id for i in found if i.knowledge_support_id}
    titles = dict(
        session.execute(
            select(KnowledgeSupport.id, KnowledgeSupport.title).where(
                KnowledgeSupport.id.in_(supports)
            )
        ).all()
    )
    units = unit_queries.by_id(session, {i.owner_unit_id for i in found})
    return {
        i.id: (
            titles.get(i.knowledge_support_id) or ""
            if i.knowledge_support_id
            else units[i.owner_unit_id].name
            if i.owner_unit_id in units
            else ""
        )
        for i in found
    }


HEADER = [
    "Indikator",
    "Kunskapsstöd eller ägare",
    "Måttenhet",
    "Enhet",
    "Enhetens kod",
    "Period",
    "Värde",
    "Mål",
    "Målets källa",
    "Status",
    "Föregående period",
    "Trend",
    "Antal mätvärden",
]


def table(found: list[Block]) -> list[list[Any]]:
    """The rows the page shows, as the exports write them (HEADER)."""
    out: list[list[Any]] = []
    for block in found:
        for row in block.summary + block.rows:
            r = row.result
            target = r.target if r else block.indicator.target_value
            out.append(
                [
                    block.indicator.name,
                    block.owner,
                    block.indicator.unit_of_measure,
                    row.name,
                    row.code or "",
                    block.periods[-1],
                    r.value if r else None,
                    target,
                    "Måltal i indikatorlista" if row.own_target else "Nationellt målvärde",
                    row.status_label,
                    r.previous if r else None,
                    attainment.TREND_LABELS.get(r.trend or "", "") if r else "",
                    r.reports if r else 0,
                ]
            )
    return out
