"""An indikatorlista's targets as its page shows them: indicator, unit, måltal, tolerance,
responsible unit, and, once the list is approved, the period's value, status and trend
(kflow.followup.attainment)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import IndicatorList
from kflow.followup import attainment, periods
from kflow.followup.lists import targets_of
from kflow.followup.models import Indicator
from kflow.queries import units as unit_queries


@dataclasses.dataclass(frozen=True)
class TargetRow:
    indicator: str
    unit_of_measure: str
    unit: str
    target_value: float
    tolerance_pct: float | None
    responsible: str
    result: attainment.Result | None


def default_period(today: dt.date, kind: str = "tertial") -> str:
    """The period a follow-up page opens on: the latest one that has ended."""
    return periods.latest_ended(today, kind).code


def rows(
    session: Session, case: IndicatorList, period: str, tolerance_pct: float
) -> list[TargetRow]:
    targets = targets_of(session, case.id)
    if not targets:
        return []
    results = {
        (r.indicator_id, r.unit_id): r
        for r in attainment.target_results(
            session, period, list_ids=[case.id], tolerance_pct=tolerance_pct
        )
    }
    wanted = {t.indicator_id for t in targets}
    indicators = {
        i.id: i for i in session.scalars(select(Indicator).where(Indicator.id.in_(wanted)))
    }
    units = unit_queries.by_id(
        session, {u for t in targets for u in (t.unit_id, t.responsible_id) if u}
    )
    return [
        TargetRow(
            indicator=indicators[t.indicator_id].name,
            unit_of_measure=indicators[t.indicator_id].unit_of_measure,
            unit=units[t.unit_id].name,
            target_value=t.target_value,
            tolerance_pct=t.tolerance_pct,
            responsible=units[t.responsible_id].name if t.responsible_id else "",
            result=results.get((t.indicator_id, t.unit_id)),
        )
        for t in targets
    ]
