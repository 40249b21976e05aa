"""A follow-up report as its case page shows it (lifecycle.md §6.6): its recipient, its snapshot
(frozen at submit; before that, what it would hold now) and the reports from the units below it
for the period, each linked where the viewer may read it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from kflow.cases.models import FollowUpReport
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.followup import snapshot as snapshots
from kflow.followup.attainment import STATUS_LABELS, STATUS_SYMBOLS, TREND_LABELS
from kflow.org.models import Unit
from kflow.queries.casepage import Linked, related
from kflow.states import follow_up_report as states

RESUBMITTABLE = (states.State.OPEN, states.State.MISSED)


@dataclasses.dataclass
class TargetRow:
    indicator: str
    unit: str
    unit_of_measure: str
    target: float | None
    value: float | None
    status: str
    status_label: str
    symbol: str
    trend: str


@dataclasses.dataclass
class ReportPage:
    recipient: str
    frozen: bool  # the snapshot as submitted; else a preview of what submit would freeze
    frozen_at: str | None
    targets: list[TargetRow]
    deviations: list[dict[str, Any]]  # case_id, unit, knowledge_support, comment, since
    accepted: list[dict[str, Any]]  # the accepted reports from below, in the snapshot
    below: list[Linked]  # every report to this unit for the period, as the viewer may see it

    @property
    def needs_analysis(self) -> bool:
        targets = [{"status": row.status} for row in self.targets]
        return states.needs_analysis({"targets": targets, "deviations": self.deviations})


def report_page(
    session: Session, authority: Authority, report: FollowUpReport, today: dt.date
) -> ReportPage:
    # A returned report keeps what it was sent with until it is sent again: show what it
    # would freeze now.
    frozen = report.snapshot is not None and report.state not in RESUBMITTABLE
    shown = (
        report.snapshot
        if frozen and report.snapshot
        else snapshots.build(session, report, utcnow())
    )
    recipient = session.get(Unit, report.recipient_id) if report.recipient_id else None
    return ReportPage(
        recipient=recipient.name if recipient else "–",
        frozen=frozen,
        frozen_at=shown.get("frozen_at") if frozen else None,
        targets=[_target(row) for row in shown.get("targets", [])],
        deviations=list(shown.get("deviations", [])),
        accepted=list(shown.get("reports", [])),
        below=reports_below(session, authority, report, today),
    )


def _target(row: dict[str, Any]) -> TargetRow:
    status = row.get("status", "no_data")
    return TargetRow(
        indicator=row.get("indicator", ""),
        unit=row.get("unit", ""),
        unit_of_measure=row.get("unit_of_measure", ""),
        target=row.get("target"),
        value=row.get("value"),
        status=status,
        status_label=STATUS_LABELS.get(status, status),
        symbol=STATUS_SYMBOLS.get(status, ""),
        trend=TREND_LABELS.get(row.get("trend") or "", ""),
    )


def reports_below(
    session: Session, authority: Authority, report: FollowUpReport, today: dt.date
) -> list[Linked]:
    """The reports to this report's unit for its period (or a period within it)."""
    found = []
    for state in states.State:
        found += snapshots.reports_to(session, report, state)
    authority.prefetch_cases([r for r, _ in found])
    return [
        related(authority, r, f"{unit.name} ({r.period})", None, today)
        for r, unit in sorted(found, key=lambda pair: (pair[1].name, pair[0].period or ""))
    ]
