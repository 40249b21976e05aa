"""What a follow-up report freezes at ``submit`` (lifecycle.md §6.6), and which reports below it
are still open: the reads kflow.states.follow_up_report asks of a firing, registered here.

The snapshot holds the goal attainment of the targets (of the approved indikatorlistor of the
period's year) set for the unit or a unit below it, or for which it or a unit below it is the
responsible programme unit; the local implementations below the unit in ``deviation`` with the
comment that reported it; and the reports from below that its unit accepted for the period
(or for a period within it: a year's report gathers the tertials).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, FollowUpReport, IndicatorList, KnowledgeSupport
from kflow.followup import attainment, periods
from kflow.followup.lists import IndicatorTarget
from kflow.followup.models import Indicator
from kflow.org.models import Unit, UnitClosure
from kflow.states import follow_up_report as states
from kflow.states import local_implementation as li_states
from kflow.states.base import CaseType, Context, provides
from kflow.states.indicator_list import State as ListState


def units_below(session: Session, unit_id: int) -> set[int]:
    """``unit_id`` and every unit below it."""
    query = select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id == unit_id)
    return set(session.scalars(query))


def within(inner: str | None, outer: str | None) -> bool:
    """Whether the period ``inner`` lies within ``outer`` (or is it)."""
    if not inner or not outer:
        return False
    a, b = periods.parse(inner), periods.parse(outer)
    return b.start <= a.start and a.end <= b.end


def reports_to(session: Session, report: Any, state: str) -> list[tuple[FollowUpReport, Unit]]:
    """The reports in ``state`` to ``report``'s unit for its period (or a period within it),
    each with its unit."""
    rows = session.execute(
        select(FollowUpReport, Unit)
        .join(Unit, Unit.id == FollowUpReport.owner_id)
        .where(FollowUpReport.recipient_id == report.owner_id, FollowUpReport.state == state)
        .order_by(Unit.name, FollowUpReport.period, FollowUpReport.id)
        .execution_options(populate_existing=True)
    ).all()
    return [(found, unit) for found, unit in rows if within(found.period, report.period)]


@provides(states.OPEN_BELOW)
def open_below(session: Session, ctx: Context) -> list[str]:
    """The units below whose report for the period is still open, by name."""
    return [unit.name for _, unit in reports_to(session, ctx.case, states.State.OPEN)]


@provides(states.SNAPSHOT)
def snapshot(session: Session, ctx: Context) -> dict[str, Any]:
    return build(session, ctx.case, ctx.now)


def build(session: Session, report: Any, now: dt.datetime) -> dict[str, Any]:
    """The snapshot of ``report`` as it would be frozen at ``now``."""
    below = units_below(session, report.owner_id)
    return {
        "period": report.period,
        "frozen_at": now.isoformat(),
        "targets": target_rows(session, report.period, below),
        "deviations": deviation_rows(session, below),
        "reports": [
            {
                "case_id": found.id,
                "unit": unit.name,
                "unit_code": unit.code,
                "period": found.period,
                "analysis": found.analysis,
                "not_met": _not_met(found.snapshot),
                "deviations": len((found.snapshot or {}).get("deviations", [])),
            }
            for found, unit in reports_to(session, report, states.State.ACCEPTED)
        ],
    }


def _not_met(frozen: dict[str, Any] | None) -> int:
    return sum(1 for row in (frozen or {}).get("targets", []) if row["status"] == "not_met")


def target_rows(session: Session, period: str, below: set[int]) -> list[dict[str, Any]]:
    """Goal attainment of the targets that concern the units ``below``, as the snapshot keeps
    it (names, not only ids: the snapshot must read the same if a unit is renamed)."""
    year = periods.parse(period).year
    lists = list(
        session.scalars(
            select(IndicatorList.id).where(
                IndicatorList.state == ListState.APPROVED, IndicatorList.year == year
            )
        )
    )
    if not lists:
        return []
    t = IndicatorTarget
    concerned = {
        (indicator, unit)
        for indicator, unit, responsible in session.execute(
            select(t.indicator_id, t.unit_id, t.responsible_id).where(t.case_id.in_(lists))
        )
        if unit in below or responsible in below
    }
    results = [
        r
        for r in attainment.target_results(session, period, list_ids=lists)
        if (r.indicator_id, r.unit_id) in concerned
    ]
    indicators = {
        i.id: i
        for i in session.scalars(
            select(Indicator).where(Indicator.id.in_({r.indicator_id for r in results}))
        )
    }
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(below)))}
    rows = {}
    for r in results:
        indicator, unit = indicators[r.indicator_id], units[r.unit_id or 0]
        rows[(r.indicator_id, r.unit_id)] = {
            "indicator_id": r.indicator_id,
            "indicator": indicator.name,
            "unit_of_measure": indicator.unit_of_measure,
            "unit": unit.name,
            "unit_code": unit.code,
            "target": r.target,
            "value": r.value,
            "status": r.status,
            "trend": r.trend,
        }
    return list(rows.values())


def deviation_rows(session: Session, below: set[int]) -> list[dict[str, Any]]:
    """The local implementations below in ``deviation``, with the comment that reported it."""
    support = aliased(KnowledgeSupport)
    rows = session.execute(
        select(Case.id, Case.updated_at, Unit.name, Unit.code, support.title)
        .join(Unit, Unit.id == Case.owner_id)
        .join(support, support.id == Case.knowledge_support_id)
        .where(
            Case.type == CaseType.LOCAL_IMPLEMENTATION,
            Case.state == li_states.State.DEVIATION,
            Case.owner_id.in_(below),
        )
        .order_by(Unit.name, Case.id)
    ).all()
    comments = _deviation_comments(session, [row[0] for row in rows])
    return [
        {
            "case_id": case_id,
            "unit": name,
            "unit_code": code,
            "knowledge_support": title,
            "comment": comments.get(case_id, ("", None))[0],
            "since": _day(comments.get(case_id, ("", updated))[1]),
        }
        for case_id, updated, name, code, title in rows
    ]


def _deviation_comments(
    session: Session, case_ids: list[int]
) -> dict[int, tuple[str, dt.datetime | None]]:
    """The comment and time of each case's latest ``report_deviation``."""
    found: dict[int, tuple[str, dt.datetime | None]] = {}
    if case_ids:
        rows = session.execute(
            select(CaseEvent.case_id, CaseEvent.comment, CaseEvent.at)
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.trigger == "report_deviation")
            .order_by(CaseEvent.id)
        )
        for case_id, comment, at in rows:
            found[case_id] = (comment or "", at)
    return found


def _day(moment: dt.datetime | None) -> str | None:
    return moment.date().isoformat() if moment else None
