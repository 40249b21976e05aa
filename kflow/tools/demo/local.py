"""A local unit's implementation: acknowledged, implemented (or a deviation reported),
followed up with measurements of the knowledge support's indicators, and closed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kflow.calendar import local_date
from kflow.cases.models import Case, LocalImplementation
from kflow.followup import measurements
from kflow.followup.models import Indicator
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.people import LOCAL_STAFF, REGION_STAFF


def local(
    b: Builder, li: Case, region: str, unit: str, until: str, day: int, gap: int, index: int
) -> int:
    """Drive one local implementation from ``day`` to ``until``; return the last day."""
    region_lead = REGION_STAFF[region]["process_lead"]
    day -= 3 + index
    if until == "assigned":
        return day
    if until == "waived":
        b.fire(
            li,
            "waive",
            region_lead,
            day,
            comment="Ej aktuellt: verksamheten har inte denna patientgrupp.",
        )
        return day
    if unit not in LOCAL_STAFF:
        # No local lead in the demo: the admin acknowledges on the unit's behalf.
        assert until == "acknowledged", (unit, until)
        b.fire(
            li,
            "acknowledge",
            "admin",
            day,
            override=True,
            comment="Kvitteras på uppdrag av verksamhetschefen (frånvarande).",
        )
        return day
    lead, member = LOCAL_STAFF[unit]
    b.fire(li, "acknowledge", member or lead, day)
    if until == "acknowledged":
        return day
    return _implement(b, li, lead, region_lead, until, day, max(3, gap // 2))


def _implement(
    b: Builder, li: Case, lead: str, region_lead: str, until: str, day: int, step: int
) -> int:
    """From acknowledged, ``step`` days a step: implemented, followed up, closed."""
    day -= step
    b.fire(li, "start_implementation", lead, day)
    if until == "implementing":
        return day
    if until == "deviation":
        day -= step
        b.fire(
            li,
            "report_deviation",
            lead,
            day,
            comment="Införandet har stannat: två av tre specialistsjuksköterskor "
            "har slutat och rekryteringen drar ut på tiden.",
        )
        return day
    day -= step
    b.fire(li, "report_implemented", lead, day)
    measure(b, li, lead, day)
    if until == "implemented":
        return day
    day -= step
    b.fire(li, "start_follow_up", lead, day)
    measure(b, li, lead, day)
    if until == "following_up":
        return day
    day -= step
    b.fire(li, "close", region_lead, day)
    assert until == "closed", until
    return day


def measure(b: Builder, li: Case, who: str, days_ago: int) -> None:
    """Report the last quarter's value of each of the knowledge support's indicators."""
    assert isinstance(li, LocalImplementation)
    found = b.session.scalars(
        select(Indicator)
        .where(Indicator.knowledge_support_id == li.knowledge_support_id)
        .order_by(Indicator.id)
    ).all()
    moment = b.at(days_ago, li)
    quarter_ago = local_date(moment) - dt.timedelta(days=91)
    period = f"{quarter_ago.year}-Q{(quarter_ago.month - 1) // 3 + 1}"
    for indicator in found:
        # Somewhere between 70 % and 115 % of the way to the target, varying by report.
        share = 0.70 + 0.05 * (b.count() % 10)
        target = indicator.target_value or 1.0
        value = target * share if indicator.direction == "higher_is_better" else target / share
        if indicator.unit_of_measure == "procent":
            value = min(value, 100.0)
        measurements.report_on_implementation(
            b.session,
            b.authority(who),
            li,
            settings=b.settings,
            indicator_id=indicator.id,
            period=period,
            value=round(value, 1),
            now=moment,
        )
