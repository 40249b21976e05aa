"""Goal attainment (lifecycle.md §6.4), computed in SQL, never stored (a report's snapshot
freezes a copy).

A value is the indicator's aggregation over the current (non-superseded) measurements of a unit
and every unit below it, for one period: ``mean``, ``sum``, or for ``ratio`` Σnumerator /
Σdenominator (× 100 for a percentage). A status compares it with a target in the indicator's
direction: ``met``, ``near`` (within ``tolerance_pct`` of the target, default
``followup.tolerance_pct``), ``not_met``, or ``no_data``. The trend compares the value with that
of the period of the same length before.

Two read models: the targets of approved indikatorlistor for a period (``target_results``), and
an indicator rolled up to units of one level, or the nation (``level_results``), against the
national target.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from sqlalchemy import Table, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from kflow.cases.models import Case
from kflow.followup import periods
from kflow.followup.lists import IndicatorTarget
from kflow.followup.models import Indicator, Measurement
from kflow.followup.values import PERCENT_UNITS
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.states.indicator_list import State as ListState

M = cast(Table, Measurement.__table__)
IND = cast(Table, Indicator.__table__)
T = cast(Table, IndicatorTarget.__table__)
U = cast(Table, Unit.__table__)
C = cast(Table, UnitClosure.__table__)
CASES = cast(Table, Case.__table__)

STATUS_LABELS = {
    "met": "Uppfyllt",
    "near": "Nära",
    "not_met": "Ej uppfyllt",
    "no_data": "Värde saknas",
}
STATUS_SYMBOLS = {"met": "✔", "near": "≈", "not_met": "✘", "no_data": "–"}
TREND_LABELS = {"up": "Uppåt", "down": "Nedåt", "same": "Oförändrat"}
LEVELS = (UnitKind.LOCAL_UNIT, UnitKind.REGION, UnitKind.HEALTHCARE_REGION, "nation")
DEFAULT_TOLERANCE_PCT = 5.0


@dataclasses.dataclass(frozen=True)
class Result:
    """One unit's (or the nation's) value for an indicator and period, against a target."""

    indicator_id: int
    unit_id: int | None  # None: the nation
    period: str
    value: float | None
    previous: float | None
    target: float | None
    status: str
    trend: str | None
    reports: int  # measurements the value is made of

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def trend_label(self) -> str:
        return TREND_LABELS.get(self.trend or "", "")


def aggregate() -> ColumnElement[Any]:
    """The indicator's aggregation of the measurements in the group (IND and M joined)."""
    percent = case((func.lower(IND.c.unit_of_measure).in_(sorted(PERCENT_UNITS)), 100.0), else_=1.0)
    ratio = func.sum(M.c.numerator) * percent / func.nullif(func.sum(M.c.denominator), 0)
    return case(
        (IND.c.aggregation == "mean", func.avg(M.c.value)),
        (IND.c.aggregation == "sum", func.sum(M.c.value)),
        else_=ratio,
    )


def partial_sums() -> list[ColumnElement[Any]]:
    """What ``aggregate`` is made of, for a group of measurements (M) alone: a roll-up over
    hundreds of thousands of measurements groups them first and joins the indicators to the
    few groups (``from_partials``), not to every measurement."""
    return [
        func.avg(M.c.value).label("mean_value"),
        func.sum(M.c.value).label("sum_value"),
        func.sum(M.c.numerator).label("sum_numerator"),
        func.sum(M.c.denominator).label("sum_denominator"),
    ]


def from_partials(sums: Any) -> ColumnElement[Any]:
    """``aggregate`` from ``partial_sums`` (the columns of ``sums``; IND joined)."""
    percent = case((func.lower(IND.c.unit_of_measure).in_(sorted(PERCENT_UNITS)), 100.0), else_=1.0)
    ratio = sums.c.sum_numerator * percent / func.nullif(sums.c.sum_denominator, 0)
    return case(
        (IND.c.aggregation == "mean", sums.c.mean_value),
        (IND.c.aggregation == "sum", sums.c.sum_value),
        else_=ratio,
    )


def status(
    value: ColumnElement[Any], target: ColumnElement[Any], tolerance: ColumnElement[Any]
) -> ColumnElement[str]:
    """met, near, not_met or no_data, in the indicator's direction (IND joined)."""
    higher = IND.c.direction == "higher_is_better"
    margin = func.abs(target) * tolerance / 100.0
    return case(
        (or_(value.is_(None), target.is_(None)), "no_data"),
        (and_(higher, value >= target), "met"),
        (and_(~higher, value <= target), "met"),
        (and_(higher, value >= target - margin), "near"),
        (and_(~higher, value <= target + margin), "near"),
        else_="not_met",
    )


def _trend(value: float | None, previous: float | None) -> str | None:
    if value is None or previous is None:
        return None
    if abs(value - previous) < 1e-9:
        return "same"
    return "up" if value > previous else "down"


def level_units(session: Session, level: str, within: int | None = None) -> list[int]:
    """The ids of the units of kind ``level`` (at or below ``within``). A roll-up names them
    rather than joining on the kind: the planner then reads the closure's statistics for each
    (a region has hundreds of units below it, the average unit a handful), estimates the rows
    it will aggregate and picks a plan that reads each measurement once."""
    stmt = select(U.c.id).where(U.c.kind == level)
    if within is not None:
        stmt = stmt.where(U.c.id.in_(select(C.c.descendant_id).where(C.c.ancestor_id == within)))
    return list(session.scalars(stmt.order_by(U.c.id)))


def target_results(
    session: Session,
    period: str,
    *,
    list_ids: list[int] | None = None,
    region_id: int | None = None,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> list[Result]:
    """Every target of the approved lists (those named, or of the region) for ``period``."""
    now, before = _codes(period)
    where = [CASES.c.type == "indicator_list", CASES.c.state == ListState.APPROVED]
    if list_ids is not None:
        where.append(CASES.c.id.in_(list_ids))
    if region_id is not None:
        where.append(CASES.c.region_id == region_id)
    values = (
        select(
            T.c.id.label("target_id"),
            M.c.period,
            aggregate().label("value"),
            func.count().label("reports"),
        )
        .select_from(T)
        .join(CASES, CASES.c.id == T.c.case_id)
        .join(IND, IND.c.id == T.c.indicator_id)
        .join(C, C.c.ancestor_id == T.c.unit_id)
        .join(
            M,
            and_(
                M.c.unit_id == C.c.descendant_id,
                M.c.indicator_id == T.c.indicator_id,
                M.c.period.in_([now, before]),
                M.c.superseded_at.is_(None),
            ),
        )
        .where(*where)
        .group_by(T.c.id, M.c.period, IND.c.aggregation, IND.c.unit_of_measure)
    ).cte("target_values")
    current = values.alias("current")
    earlier = values.alias("earlier")
    tolerance = func.coalesce(T.c.tolerance_pct, tolerance_pct)
    query = (
        select(
            T.c.indicator_id,
            T.c.unit_id,
            current.c.value,
            earlier.c.value,
            T.c.target_value,
            status(current.c.value, T.c.target_value, tolerance),
            func.coalesce(current.c.reports, 0),
        )
        .select_from(T)
        .join(CASES, CASES.c.id == T.c.case_id)
        .join(IND, IND.c.id == T.c.indicator_id)
        .outerjoin(current, and_(current.c.target_id == T.c.id, current.c.period == now))
        .outerjoin(earlier, and_(earlier.c.target_id == T.c.id, earlier.c.period == before))
        .where(*where)
        .order_by(T.c.indicator_id, T.c.unit_id)
    )
    return [
        Result(ind, unit, now, _f(value), _f(prev), target, state, _trend(_f(value), _f(prev)), n)
        for ind, unit, value, prev, target, state, n in session.execute(query)
    ]


def level_results(
    session: Session,
    indicator_id: int,
    period: str,
    level: str,
    *,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> list[Result]:
    """The indicator rolled up to each unit of ``level`` (a unit kind) with measurements, or to
    the nation, against the national target (the indicator's ``target_value``)."""
    if level not in LEVELS:
        raise ValueError(level)
    now, before = _codes(period)
    grouped = level != "nation"
    unit = C.c.ancestor_id if grouped else literal(None)
    values = (
        select(
            unit.label("unit_id"),
            M.c.period,
            aggregate().label("value"),
            func.count().label("reports"),
        )
        .select_from(M)
        .join(IND, IND.c.id == M.c.indicator_id)
        .where(
            M.c.indicator_id == indicator_id,
            M.c.period.in_([now, before]),
            M.c.superseded_at.is_(None),
        )
    )
    if grouped:
        values = values.join(C, C.c.descendant_id == M.c.unit_id).where(
            C.c.ancestor_id.in_(level_units(session, level))
        )
        values = values.group_by(
            C.c.ancestor_id, M.c.period, IND.c.aggregation, IND.c.unit_of_measure
        )
    else:
        values = values.group_by(M.c.period, IND.c.aggregation, IND.c.unit_of_measure)
    rows = values.cte("level_values")
    current = rows.alias("current")
    earlier = rows.alias("earlier")
    same_unit = current.c.unit_id == earlier.c.unit_id if grouped else literal(True)
    query = (
        select(
            current.c.unit_id,
            current.c.value,
            earlier.c.value,
            IND.c.target_value,
            status(current.c.value, IND.c.target_value, literal(tolerance_pct)),
            current.c.reports,
        )
        .select_from(current)
        .join(IND, IND.c.id == indicator_id)
        .outerjoin(earlier, and_(same_unit, earlier.c.period == before))
        .where(current.c.period == now)
        .order_by(current.c.unit_id)
    )
    return [
        Result(indicator_id, u, now, _f(v), _f(p), t, s, _trend(_f(v), _f(p)), n)
        for u, v, p, t, s, n in session.execute(query)
    ]


def _codes(period: str) -> tuple[str, str]:
    found = periods.parse(period)
    return found.code, found.previous().code


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
