"""Defining follow-up indicators (lifecycle.md §6.1), and their simple roll-up per region.

An indicator belongs to a knowledge support or to a programme unit (kflow.followup.rights);
the owner's chair or process lead defines it. Measurements are in kflow.followup.measurements.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.models import KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.errors import Forbidden, InvalidTransition, ValidationError
from kflow.followup import rights
from kflow.followup.models import AGGREGATIONS, DIRECTIONS, SOURCES, Indicator, Measurement
from kflow.followup.values import optional_number
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind

DEFINE_ROLES = rights.DEFINE_ROLES
# The values before lifecycle.md §6.1 named them, still taken as input.
DIRECTION_ALIASES = {"higher": "higher_is_better", "lower": "lower_is_better"}
CODE_RE = re.compile(r"^[\w.:/-]{1,50}$")


def _choice(value: Any, name: str, allowed: dict[str, str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{name} måste vara något av: {', '.join(allowed)}.")
    return value


def define_indicator(
    session: Session,
    authority: Authority,
    owner: KnowledgeSupport | Unit,
    *,
    name: Any,
    unit_of_measure: Any,
    target_value: Any = None,
    direction: Any = "higher_is_better",
    code: Any = None,
    source: Any = "manuell",
    aggregation: Any = "mean",
) -> Indicator:
    """A new indicator of ``owner`` (a knowledge support, or a programme unit)."""
    if isinstance(owner, KnowledgeSupport):
        if not set(DEFINE_ROLES) & authority.case_roles(owner):
            raise Forbidden(
                "Bara kunskapsstödets ordförande eller processledare kan lägga till indikatorer."
            )
        if not owner.is_open:
            raise InvalidTransition("Kunskapsstödet är avslutat; indikatorer kan inte läggas till.")
        same_owner = Indicator.knowledge_support_id == owner.id
    else:
        if not rights.is_programme_unit(owner):
            raise ValidationError(
                "owner_unit måste vara ett programområde eller motsvarande (RPO, LPO, "
                "samordningsråd, primärvårdsråd eller regionalt processteam)."
            )
        if not set(DEFINE_ROLES) & authority.roles_at(owner.id):
            raise Forbidden(
                "Bara enhetens ordförande eller processledare kan lägga till indikatorer."
            )
        same_owner = Indicator.owner_unit_id == owner.id
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise ValidationError("name krävs (högst 200 tecken).")
    if not isinstance(unit_of_measure, str) or not unit_of_measure.strip():
        raise ValidationError("unit_of_measure krävs, t.ex. 'procent'.")
    if len(unit_of_measure.strip()) > 50:
        raise ValidationError("unit_of_measure får vara högst 50 tecken.")
    if isinstance(direction, str):
        direction = DIRECTION_ALIASES.get(direction, direction)
    direction = _choice(direction, "direction", DIRECTIONS)
    source = _choice(source, "source", SOURCES)
    aggregation = _choice(aggregation, "aggregation", AGGREGATIONS)
    if code is not None and (not isinstance(code, str) or not CODE_RE.match(code.strip())):
        raise ValidationError(
            "code får ha högst 50 tecken: bokstäver, siffror och . : / - _ (inga mellanslag)."
        )
    code = code.strip() if isinstance(code, str) and code.strip() else None
    target = optional_number(target_value, "target_value")
    name = name.strip()
    if session.scalar(select(Indicator.id).where(same_owner, Indicator.name == name)):
        raise ValidationError(f"Det finns redan en indikator som heter '{name}'.")
    if code is not None and session.scalar(select(Indicator.id).where(Indicator.code == code)):
        raise ValidationError(f"Det finns redan en indikator med koden '{code}'.")
    indicator = Indicator(
        knowledge_support_id=owner.id if isinstance(owner, KnowledgeSupport) else None,
        owner_unit_id=None if isinstance(owner, KnowledgeSupport) else owner.id,
        code=code,
        name=name,
        unit_of_measure=unit_of_measure.strip(),
        target_value=target,
        direction=direction,
        source=source,
        aggregation=aggregation,
    )
    session.add(indicator)
    session.flush()  # generate indicator.id for the caller
    return indicator


@dataclasses.dataclass
class RollUp:
    indicator: Indicator
    period: str
    # region code -> (mean value, reporting units)
    regions: dict[str, tuple[float, int]]
    national: tuple[float, int]


def roll_up(session: Session, ks: KnowledgeSupport) -> list[RollUp]:
    """Mean current value and number of reporting units per indicator, period and region, and
    nationally (superseded values left out)."""
    indicators = {
        i.id: i
        for i in session.scalars(
            select(Indicator).where(Indicator.knowledge_support_id == ks.id).order_by(Indicator.id)
        )
    }
    if not indicators:
        return []
    region = Unit.__table__.alias("region_unit")
    rows = session.execute(
        select(
            Measurement.indicator_id,
            Measurement.period,
            region.c.code,
            func.avg(Measurement.value),
            func.count(Measurement.id),
        )
        .join(UnitClosure, UnitClosure.descendant_id == Measurement.unit_id)
        .join(region, region.c.id == UnitClosure.ancestor_id)
        .where(
            Measurement.indicator_id.in_(indicators),
            Measurement.superseded_at.is_(None),
            region.c.kind == UnitKind.REGION,
        )
        .group_by(Measurement.indicator_id, Measurement.period, region.c.code)
    ).all()
    grouped: dict[tuple[int, str], dict[str, tuple[float, int]]] = {}
    for indicator_id, period, code, mean, count in rows:
        grouped.setdefault((indicator_id, period), {})[code] = (float(mean), int(count))
    result = []
    for (indicator_id, period), regions in sorted(grouped.items()):
        total = sum(count for _, count in regions.values())
        national = sum(mean * count for mean, count in regions.values()) / total
        result.append(RollUp(indicators[indicator_id], period, regions, (national, total)))
    return result
