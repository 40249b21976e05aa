"""Goal attainment over many periods and knowledge supports, each in ONE query (lifecycle.md
§6.4, §6.5): the series a chart draws, and the share of regions meeting a knowledge support's
targets that Översikt shows. The aggregation and status are kflow.followup.attainment's."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from kflow.followup import periods
from kflow.followup.attainment import (
    DEFAULT_TOLERANCE_PCT,
    IND,
    LEVELS,
    C,
    M,
    U,
    aggregate,
    from_partials,
    level_units,
    partial_sums,
    status,
)
from kflow.org.roles import UnitKind


@dataclasses.dataclass(frozen=True)
class Point:
    """One value of a series: an indicator rolled up to a unit (None: the nation) in a period."""

    indicator_id: int
    unit_id: int | None
    period: str
    value: float | None
    reports: int


def series(
    session: Session,
    indicator_ids: list[int],
    period_codes: list[str],
    level: str,
    *,
    within: int | None = None,
) -> list[Point]:
    """Every indicator of ``indicator_ids`` rolled up to each unit of ``level`` (or the nation)
    in each of ``period_codes``, in ONE query (a chart's lines); ``within``: only the units of
    ``level`` at or below that unit. Only (unit, period) pairs with measurements are returned."""
    if level not in LEVELS:
        raise ValueError(level)
    if not indicator_ids or not period_codes:
        return []
    keys: list[Any] = [M.c.indicator_id, M.c.period]
    stmt = select(*keys, *partial_sums(), func.count().label("reports")).where(
        M.c.indicator_id.in_(indicator_ids),
        M.c.period.in_(period_codes),
        M.c.superseded_at.is_(None),
    )
    if level != "nation":
        units = level_units(session, level, within)
        if not units:
            return []
        keys.append(C.c.ancestor_id)
        stmt = stmt.add_columns(C.c.ancestor_id.label("unit_id"))
        stmt = stmt.join(C, C.c.descendant_id == M.c.unit_id).where(C.c.ancestor_id.in_(units))
    sums = stmt.group_by(*keys).subquery("sums")
    unit = sums.c.unit_id if level != "nation" else literal(None)
    rolled = (
        select(
            sums.c.indicator_id,
            unit.label("unit_id"),
            sums.c.period,
            from_partials(sums).label("value"),
            sums.c.reports,
        )
        .join(IND, IND.c.id == sums.c.indicator_id)
        .order_by(sums.c.indicator_id, unit, sums.c.period)
    )
    return [
        Point(ind, unit_id, period, _f(value), reports)
        for ind, unit_id, period, value, reports in session.execute(rolled)
    ]


def regions_meeting(
    session: Session,
    knowledge_support_ids: list[int],
    period: str,
    *,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> dict[int, tuple[int, int]]:
    """Per knowledge support: (regions meeting every target, regions with a status) in
    ``period``. A region has a status when one of the knowledge support's indicators with a
    national target has a value there; it meets the targets when every such indicator is
    ``met``. One query."""
    if not knowledge_support_ids:
        return {}
    code = periods.parse(period).code
    values = (
        select(
            IND.c.knowledge_support_id.label("ks_id"),
            IND.c.id.label("indicator_id"),
            C.c.ancestor_id.label("region_id"),
            aggregate().label("value"),
        )
        .select_from(M)
        .join(IND, IND.c.id == M.c.indicator_id)
        .join(C, C.c.descendant_id == M.c.unit_id)
        .join(U, and_(U.c.id == C.c.ancestor_id, U.c.kind == UnitKind.REGION))
        .where(
            IND.c.knowledge_support_id.in_(knowledge_support_ids),
            M.c.period == code,
            M.c.superseded_at.is_(None),
        )
        .group_by(
            IND.c.knowledge_support_id,
            IND.c.id,
            C.c.ancestor_id,
            IND.c.aggregation,
            IND.c.unit_of_measure,
        )
    ).cte("region_values")
    verdict = status(values.c.value, IND.c.target_value, literal(tolerance_pct))
    per_region = (
        select(
            values.c.ks_id,
            values.c.region_id,
            func.min(case((verdict == "met", 1), else_=0)).label("met"),
        )
        .select_from(values)
        .join(IND, IND.c.id == values.c.indicator_id)
        .where(IND.c.target_value.is_not(None))
        .group_by(values.c.ks_id, values.c.region_id)
    ).subquery("per_region")
    totals = select(per_region.c.ks_id, func.sum(per_region.c.met), func.count()).group_by(
        per_region.c.ks_id
    )
    return {ks: (int(met or 0), int(n)) for ks, met, n in session.execute(totals)}


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
