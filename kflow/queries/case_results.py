"""The results block of a case page (lifecycle.md §6.5): a knowledge support's indicators with
the nation's and each region's latest status, and a local implementation's unit's latest value
of each indicator against its target. Only what the viewer may read (kflow.queries.results)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.engine.authority import Authority
from kflow.followup import attainment
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import UnitClosure
from kflow.queries import results
from kflow.queries import units as unit_queries


@dataclasses.dataclass(frozen=True)
class IndicatorResults:
    indicator: Indicator
    period: str | None  # None: no measurements yet
    rows: list[results.UnitResult]  # the nation first, then the regions
    hidden: int  # regions with values the viewer may not read


def _indicators(session: Session, ks_id: int) -> list[Indicator]:
    stmt = select(Indicator).where(Indicator.knowledge_support_id == ks_id)
    return list(session.scalars(stmt.order_by(Indicator.name, Indicator.id)))


def of_knowledge_support(
    session: Session, authority: Authority, ks_id: int, today: dt.date, *, tolerance_pct: float
) -> list[IndicatorResults]:
    found = _indicators(session, ks_id)
    latest = results.latest_periods(session, [i.id for i in found], today)
    out = []
    for indicator in found:
        period = latest.get(indicator.id)
        if period is None:
            out.append(IndicatorResults(indicator, None, [], 0))
            continue
        reach = results.Reach(session, authority, indicator)
        nation = results.results(
            session, authority, indicator, period, "nation",
            tolerance_pct=tolerance_pct, reach=reach,
        )  # fmt: skip
        every = attainment.level_results(
            session, indicator.id, period, "region", tolerance_pct=tolerance_pct
        )
        regions = results.results(
            session, authority, indicator, period, "region",
            tolerance_pct=tolerance_pct, reach=reach,
        )  # fmt: skip
        out.append(IndicatorResults(indicator, period, nation + regions, len(every) - len(regions)))
    return out


@dataclasses.dataclass(frozen=True)
class UnitRow:
    indicator: Indicator
    period: str | None
    result: attainment.Result | None
    own_target: bool  # a måltal in an approved indikatorlista


def of_unit(
    session: Session,
    ks_id: int,
    unit_id: int,
    region_id: int | None,
    today: dt.date,
    *,
    tolerance_pct: float,
) -> list[UnitRow]:
    """Each indicator of the knowledge support: the unit's latest period with a value, its
    value there and its status against the unit's måltal, or else the national target. The
    case page's reader may read its unit's measurements (they are listed on the page)."""
    found = _indicators(session, ks_id)
    below = select(Measurement.indicator_id, Measurement.period).where(
        Measurement.unit_id.in_(
            select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id == unit_id)
        ),
        Measurement.indicator_id.in_([i.id for i in found]),
        Measurement.superseded_at.is_(None),
    )
    latest = results.newest(session.execute(below.distinct()), today)
    unit = unit_queries.by_id(session, [unit_id])[unit_id]
    out = []
    for indicator in found:
        period = latest.get(indicator.id)
        result, own = None, False
        if period is not None:
            targets = attainment.target_results(
                session, period, region_id=region_id, tolerance_pct=tolerance_pct
            )
            match = [t for t in targets if (t.indicator_id, t.unit_id) == (indicator.id, unit_id)]
            if match:
                result, own = match[0], True
            elif unit.kind in attainment.LEVELS:
                result = next(
                    (
                        r
                        for r in attainment.level_results(
                            session, indicator.id, period, unit.kind, tolerance_pct=tolerance_pct
                        )
                        if r.unit_id == unit_id
                    ),
                    None,
                )
        out.append(UnitRow(indicator, period, result, own))
    return out
