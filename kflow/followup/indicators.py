"""Follow-up indicators of a knowledge support and the measurements local units report.

The knowledge support's chair or process lead defines indicators. A local unit's local lead or
member reports a measurement (indicator, period, value) while its implementation is
``implemented`` or ``following_up``; in follow-up a report moves the next measurement's due date
a year on. Measurements roll up per region and nationally.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.cases.models import Case, KnowledgeSupport, LocalImplementation
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.engine.deadlines import due_values
from kflow.errors import Forbidden, InvalidTransition, ValidationError
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit
from kflow.org.roles import Role
from kflow.states import local_implementation as li_states

PERIOD_RE = re.compile(r"^(19|20)\d\d(-(0[1-9]|1[0-2])|-Q[1-4]|-H[12])?$")
DEFINE_ROLES = (Role.CHAIR, Role.PROCESS_LEAD)
REPORT_ROLES = (Role.LOCAL_LEAD, Role.MEMBER)


def define_indicator(
    session: Session,
    authority: Authority,
    ks: KnowledgeSupport,
    *,
    name: Any,
    unit_of_measure: Any,
    target_value: Any = None,
    direction: Any = "higher",
) -> Indicator:
    if not set(DEFINE_ROLES) & authority.case_roles(ks):
        raise Forbidden(
            "Bara kunskapsstödets ordförande eller processledare kan lägga till indikatorer."
        )
    if not ks.is_open:
        raise InvalidTransition("Kunskapsstödet är avslutat; indikatorer kan inte läggas till.")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise ValidationError("name krävs (högst 200 tecken).")
    if (
        not isinstance(unit_of_measure, str)
        or not unit_of_measure.strip()
        or len(unit_of_measure) > 50
    ):
        raise ValidationError("unit_of_measure krävs (högst 50 tecken), t.ex. 'procent'.")
    if direction not in ("higher", "lower"):
        raise ValidationError("direction måste vara higher eller lower.")
    target = None if target_value in (None, "") else _number(target_value, "target_value")
    exists = session.scalar(
        select(Indicator.id).where(
            Indicator.knowledge_support_id == ks.id, Indicator.name == name.strip()
        )
    )
    if exists is not None:
        raise ValidationError(f"Det finns redan en indikator som heter '{name.strip()}'.")
    indicator = Indicator(
        knowledge_support_id=ks.id,
        name=name.strip(),
        unit_of_measure=unit_of_measure.strip(),
        target_value=target,
        direction=direction,
    )
    session.add(indicator)
    session.flush()  # generate indicator.id for the caller
    return indicator


def report_measurement(
    session: Session,
    authority: Authority,
    implementation: LocalImplementation,
    *,
    settings: Settings,
    indicator_id: Any,
    period: Any,
    value: Any,
    now: dt.datetime | None = None,
) -> Measurement:
    """Record (or correct) one measurement for the unit's implementation."""
    now = now or utcnow()
    if not set(REPORT_ROLES) & authority.case_roles(implementation):
        raise Forbidden("Bara enhetens lokalt ansvariga eller ledamöter kan rapportera mätvärden.")
    if implementation.state not in li_states.MEASURING:
        raise InvalidTransition(
            "Mätvärden rapporteras när införandet är infört eller under uppföljning."
        )
    indicator = session.get(Indicator, indicator_id) if isinstance(indicator_id, int) else None
    if indicator is None or indicator.knowledge_support_id != implementation.knowledge_support_id:
        raise ValidationError("indicator måste vara en indikator för det här kunskapsstödet.")
    if not isinstance(period, str) or not PERIOD_RE.match(period):
        raise ValidationError("period måste vara ÅÅÅÅ, ÅÅÅÅ-MM, ÅÅÅÅ-Q1..Q4 eller ÅÅÅÅ-H1/H2.")
    number = _number(value, "value")
    user_id = authority.actor.user_id
    measurement = session.scalar(
        select(Measurement).where(
            Measurement.indicator_id == indicator.id,
            Measurement.implementation_id == implementation.id,
            Measurement.period == period,
        )
    )
    if measurement is None:
        measurement = Measurement(
            indicator_id=indicator.id, implementation_id=implementation.id, period=period
        )
        session.add(measurement)
    measurement.value = number
    measurement.reported_by_id = user_id
    measurement.reported_at = now
    if implementation.state == li_states.State.FOLLOWING_UP:
        next_due = local_date(now) + dt.timedelta(
            days=settings.deadlines.follow_up_measurement_days
        )
        for column, new in due_values(next_due, settings).items():
            setattr(implementation, column, new)
        implementation.updated_at = now
    session.flush()  # surface the version check on the implementation now
    return measurement


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValidationError(f"{name} måste vara ett tal.")
    try:
        number = (
            float(str(value).replace(",", ".").replace(" ", ""))
            if isinstance(value, str)
            else float(value)
        )
    except (TypeError, ValueError):
        raise ValidationError(f"{name} måste vara ett tal.") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} måste vara ett ändligt tal.")
    return number


@dataclasses.dataclass
class RollUp:
    indicator: Indicator
    period: str
    # region code -> (mean value, reporting units)
    regions: dict[str, tuple[float, int]]
    national: tuple[float, int]


def roll_up(session: Session, ks: KnowledgeSupport) -> list[RollUp]:
    """Mean value and number of reporting units per indicator, period and region, and nationally."""
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
        .join(Case, Case.id == Measurement.implementation_id)
        .join(region, region.c.id == Case.region_id)
        .where(Measurement.indicator_id.in_(indicators))
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
