"""An indicator's goal attainment as its reader may see it (lifecycle.md §6.4, §6.5): the API's
``/indicators/{id}/results``, the results on case pages and *Uppföljning* read it here.

A result is made of measurements, so it is shown by the rule for reading them
(kflow.queries.followup.readable): a unit's result to whoever holds a role at or above the unit;
every result of the indicator, the nation's included, to whoever holds a role in (or above) the
indicator's owner (its knowledge support's owner, or its programme unit).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.errors import ValidationError
from kflow.followup import attainment, periods
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit

NATION = "Hela riket"
LEVEL_LABELS = {
    "local_unit": "Lokal enhet",
    "region": "Region",
    "healthcare_region": "Sjukvårdsregion",
    "nation": "Riket",
}


@dataclasses.dataclass(frozen=True)
class UnitResult:
    """One unit's (or the nation's) result, with the unit's code and name."""

    unit_id: int | None
    unit_code: str | None
    unit_name: str
    result: attainment.Result


class Reach:
    """Which units' results of one indicator the actor may see."""

    def __init__(self, session: Session, authority: Authority, indicator: Indicator) -> None:
        self.authority = authority
        owner = indicator.owner_unit_id
        if owner is None and indicator.knowledge_support_id is not None:
            owner = session.scalar(
                select(Case.owner_id).where(Case.id == indicator.knowledge_support_id)
            )
        self.everything = authority.actor.is_system or bool(authority.roles_at(owner))

    def units(self, unit_ids: Iterable[int | None]) -> set[int]:
        """The units among ``unit_ids`` whose results the actor may see."""
        wanted = {u for u in unit_ids if u is not None}
        if self.everything:
            return wanted
        self.authority.prefetch(wanted)
        return {u for u in wanted if self.authority.roles_at(u)}

    def sees(self, unit_id: int | None) -> bool:
        return self.everything if unit_id is None else bool(self.units([unit_id]))


def level(value: object) -> str:
    """A level of lifecycle.md §6.4 (a ValidationError naming the field otherwise)."""
    if value not in LEVEL_LABELS:
        raise ValidationError(f"level måste vara en av: {', '.join(LEVEL_LABELS)}.")
    return str(value)


def default_period(today: dt.date, kind: str = "tertial") -> str:
    """The latest period of ``kind`` that has ended."""
    return periods.latest_ended(today, kind).code


def results(
    session: Session,
    authority: Authority,
    indicator: Indicator,
    period: str,
    at_level: str,
    *,
    tolerance_pct: float,
    reach: Reach | None = None,
) -> list[UnitResult]:
    """The indicator rolled up to each unit of ``at_level`` with measurements in ``period`` (or
    the nation), those the actor may see, by unit name."""
    code = periods.parse(period).code
    found = attainment.level_results(
        session, indicator.id, code, level(at_level), tolerance_pct=tolerance_pct
    )
    reach = reach or Reach(session, authority, indicator)
    shown = reach.units(r.unit_id for r in found)
    units = _units(session, shown)
    out = [
        UnitResult(r.unit_id, units[r.unit_id].code, units[r.unit_id].name, r)
        for r in found
        if r.unit_id in shown
    ]
    if at_level == "nation" and reach.everything:
        out += [UnitResult(None, None, NATION, r) for r in found]
    return sorted(out, key=lambda u: u.unit_name)


def _units(session: Session, ids: Collection[int]) -> dict[int, Unit]:
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}


def latest_periods(
    session: Session, indicator_ids: Collection[int], today: dt.date
) -> dict[int, str]:
    """Per indicator, the latest period with a current measurement, preferring one that has
    ended (one query)."""
    if not indicator_ids:
        return {}
    rows = session.execute(
        select(Measurement.indicator_id, Measurement.period)
        .where(
            Measurement.indicator_id.in_(indicator_ids),
            Measurement.superseded_at.is_(None),
        )
        .distinct()
    )
    return newest(rows, today)


def newest(rows: Iterable[Any], today: dt.date) -> dict[int, str]:
    """Per indicator of ``(indicator id, period code)`` rows, the latest period, preferring one
    that has ended by ``today``."""
    best: dict[int, periods.Period] = {}
    for indicator_id, code in rows:
        found = periods.parse(code)
        key = (found.end < today, found.end, found.months)
        old = best.get(indicator_id)
        if old is None or key > (old.end < today, old.end, old.months):
            best[indicator_id] = found
    return {i: p.code for i, p in best.items()}
