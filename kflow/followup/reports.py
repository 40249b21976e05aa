"""Follow-up reports (lifecycle.md §6.6): the reporting chain and opening each period's reports.

The chain: lokalt processteam → regionalt processteam → RPO or samordningsråd → the NPO it
mirrors. A lokalt or regionalt processteam reports each period (``deadlines.report_period``,
tertial by default) to the nearest unit above it one step up the chain, when it, or a unit
below it, holds a target in an approved indikatorlista of the period's year or owns a local
implementation in implemented, following_up or deviation. Once a year each region's programme
unit (RPO, else samordningsråd) mirroring an NPO reports to that NPO: one per region and NPO.
Other units report measurements only.

``open_reports`` opens them on the first working day after the period ends (and any day of
the reporting window after it, if the scheduler was down): it creates only what is missing.
The snapshot a report freezes at submit is read by kflow.followup.snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from kflow.calendar import add_business_days
from kflow.cases.models import Case, FollowUpReport, IndicatorList
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine.authority import SYSTEM
from kflow.engine.deadlines import due_values
from kflow.engine.history import record_created
from kflow.followup import periods
from kflow.followup import snapshot as _snapshot  # noqa: F401  (registers the reads submit asks)
from kflow.followup.lists import IndicatorTarget
from kflow.mailing import handoffs
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.org.subkinds import Subkind
from kflow.states import follow_up_report as states
from kflow.states import local_implementation as li_states
from kflow.states.base import CaseType, DueFacts
from kflow.states.indicator_list import State as ListState

# Each unit of the chain and its step; a unit reports to the nearest unit above it a step up.
STEPS = {
    Subkind.LOKALT_PROCESSTEAM: 0,
    Subkind.REGIONALT_PROCESSTEAM: 1,
    Subkind.RPO: 2,
    Subkind.SAMORDNINGSRAD: 2,
}
PERIOD_KINDS = {"tertial": "tertial", "quarter": "quarter", "halfyear": "half", "year": "year"}
# Local implementations that make their unit (and the chain above it) report.
REPORTING_LI = (*li_states.MEASURING, li_states.State.DEVIATION)


def period_kind(settings: Settings) -> str:
    """The periods kind of ``deadlines.report_period``."""
    name = settings.deadlines.report_period
    if name not in PERIOD_KINDS:
        raise ValueError(f"deadlines.report_period must be one of {', '.join(PERIOD_KINDS)}")
    return PERIOD_KINDS[name]


def recipient_of(session: Session, unit: Unit) -> Unit | None:
    """The unit ``unit`` reports to: the NPO an RPO or samordningsråd mirrors, else the nearest
    unit above it a step up the chain; None for a unit outside the chain."""
    if unit.subkind not in STEPS:
        return None
    step = STEPS[Subkind(unit.subkind)]
    if step == 2:
        return unit.mirrors
    higher = [str(s) for s, n in STEPS.items() if n > step]
    return session.scalar(
        select(Unit)
        .join(UnitClosure, UnitClosure.ancestor_id == Unit.id)
        .where(UnitClosure.descendant_id == unit.id, UnitClosure.depth > 0)
        .where(Unit.subkind.in_(higher))
        .order_by(UnitClosure.depth, Unit.id)
        .limit(1)
    )


def reporting_window(period: periods.Period, settings: Settings) -> tuple[dt.date, dt.date]:
    """The days the period's reports may be opened: from the first working day after it to
    their due date."""
    opened = states.opens_on(period.end)
    return opened, add_business_days(opened, settings.deadlines.report_due_business_days)


@dataclasses.dataclass(frozen=True)
class Planned:
    owner: Unit
    recipient: Unit
    region_id: int | None
    period: str


def open_reports(
    session: Session, today: dt.date, settings: Settings, now: dt.datetime | None = None
) -> list[int]:
    """Open the reports of the periods that have just ended (see the module docstring); the ids
    of those created. Running it again creates nothing new."""
    now = now or utcnow()
    planned: list[Planned] = []
    period = periods.latest_ended(today, period_kind(settings))
    first, last = reporting_window(period, settings)
    if first <= today <= last:
        planned += _team_reports(session, period)
    year = periods.latest_ended(today, "year")
    first, last = reporting_window(year, settings)
    if first <= today <= last:
        planned += _npo_reports(session, year)
    return _create(session, settings, now, planned)


def open_unit_reports(
    session: Session, settings: Settings, units: list[Unit], period: str, now: dt.datetime
) -> list[int]:
    """Open ``period``'s report for each of ``units`` that reports to someone, as the system
    does for a period that ended (the demo opens the reports of its story this way)."""
    planned = []
    for unit in units:
        recipient = recipient_of(session, unit)
        if recipient is not None:
            planned.append(Planned(unit, recipient, _region_of(session, unit), period))
    return _create(session, settings, now, planned)


def _team_reports(session: Session, period: periods.Period) -> list[Planned]:
    """A report from each lokalt and regionalt processteam that has something to report."""
    teams = [Subkind.LOKALT_PROCESSTEAM, Subkind.REGIONALT_PROCESSTEAM]
    busy = _busy_units(session, period.year) - _reported(session, period.code)
    if not busy:
        return []
    units = session.scalars(
        select(Unit).where(Unit.subkind.in_(teams), Unit.id.in_(busy)).order_by(Unit.id)
    ).all()
    found = []
    for unit in units:
        recipient = recipient_of(session, unit)
        if recipient is not None:
            found.append(Planned(unit, recipient, _region_of(session, unit), period.code))
    return found


def _reported(session: Session, period: str) -> set[int]:
    """The units that have a report for ``period`` already."""
    query = select(FollowUpReport.owner_id).where(FollowUpReport.period == period)
    return set(session.scalars(query))


def _npo_reports(session: Session, year: periods.Period) -> list[Planned]:
    """Each region's programme unit mirroring an NPO, once per region and NPO: an RPO before a
    samordningsråd, the oldest first."""
    region = aliased(Unit)
    rows = session.execute(
        select(Unit, region.id)
        .join(region, region.id == Unit.parent_id)
        .where(
            Unit.subkind.in_([Subkind.RPO, Subkind.SAMORDNINGSRAD]),
            Unit.mirrors_id.is_not(None),
            region.kind == UnitKind.REGION,
        )
        .order_by(Unit.subkind != Subkind.RPO, Unit.id)
    ).all()
    chosen: dict[tuple[int, int | None], Planned] = {}
    for unit, region_id in rows:
        key = (region_id, unit.mirrors_id)
        if key not in chosen and unit.mirrors is not None:
            chosen[key] = Planned(unit, unit.mirrors, region_id, year.code)
    return list(chosen.values())


def _busy_units(session: Session, year: int) -> set[int]:
    """Units at or above a target of an approved list of ``year`` (its unit or the programme
    unit responsible for it) or a local implementation that reports (REPORTING_LI)."""
    approved = select(IndicatorList.id).where(
        IndicatorList.state == ListState.APPROVED, IndicatorList.year == year
    )
    targets = session.execute(
        select(IndicatorTarget.unit_id, IndicatorTarget.responsible_id).where(
            IndicatorTarget.case_id.in_(approved)
        )
    ).all()
    places = {u for row in targets for u in row if u is not None}
    places |= set(
        session.scalars(
            select(Case.owner_id).where(
                Case.type == CaseType.LOCAL_IMPLEMENTATION,
                Case.state.in_([str(s) for s in REPORTING_LI]),
            )
        )
    )
    if not places:
        return set()
    above = select(UnitClosure.ancestor_id).where(UnitClosure.descendant_id.in_(places))
    return set(session.scalars(above))


def _region_of(session: Session, unit: Unit) -> int | None:
    return session.scalar(
        select(Unit.id)
        .join(UnitClosure, UnitClosure.ancestor_id == Unit.id)
        .where(UnitClosure.descendant_id == unit.id, Unit.kind == UnitKind.REGION)
        .order_by(UnitClosure.depth, Unit.id)
        .limit(1)
    )


def _create(
    session: Session, settings: Settings, now: dt.datetime, planned: list[Planned]
) -> list[int]:
    """Insert the planned reports that do not exist yet, with their history, and tell the
    people who can act on them."""
    if not planned:
        return []
    codes = {p.period for p in planned}
    existing = set(
        session.execute(
            select(Case.owner_id, FollowUpReport.period).where(
                Case.type == CaseType.FOLLOW_UP_REPORT, FollowUpReport.period.in_(codes)
            )
        ).all()
    )
    created: list[FollowUpReport] = []
    for plan in planned:
        if (plan.owner.id, plan.period) in existing:
            continue
        opened = states.opens_on(periods.parse(plan.period).end)
        facts = DueFacts(opened, settings, SimpleNamespace(period=plan.period))
        due = states.MACHINE.due_on_entering(states.MACHINE.initial, facts)
        report = FollowUpReport(
            owner_id=plan.owner.id,
            recipient_id=plan.recipient.id,
            region_id=plan.region_id,
            period=plan.period,
            created_at=now,
            updated_at=now,
            **due_values(due, settings),
        )
        session.add(report)
        created.append(report)
    if not created:
        return []
    session.flush()  # the ids for the history rows and the mail
    ids = [report.id for report in created]
    for code in sorted({report.period or "" for report in created}):
        of_period = [report.id for report in created if report.period == code]
        initial, params = states.MACHINE.initial, {"period": code}
        record_created(session, of_period, initial, SYSTEM, None, now, params)
    handoffs.handoff(session, settings, ids, f"reports.{ids[0]}.{len(ids)}")
    return ids
