"""follow_up_report: rapport om måluppfyllelse och avvikelser, one per reporting unit and period
(lifecycle.md §6.6).

The system opens a report for each unit of the chain (lokalt processteam → regionalt
processteam → RPO or samordningsråd → the NPO it mirrors) on the first working day after a
period ends (kflow.followup.reports). The unit submits it to its ``recipient``, the next unit
up, whose process lead or chair accepts it or returns it. ``submit`` freezes the snapshot: the
goal attainment of the unit's targets, the open deviations below it and the accepted reports
from below (the reads ``SNAPSHOT`` and ``OPEN_BELOW``, registered by kflow.followup.snapshot).
A report left open ``report_missed_after_business_days`` after its due date is missed; it may
still be sent late.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from kflow.calendar import add_business_days, next_working_day
from kflow.errors import ValidationError
from kflow.org.roles import Role
from kflow.states.base import (
    CaseMachine,
    CaseType,
    Context,
    DueFacts,
    Grant,
    Param,
    ParamKind,
    Scope,
    Tell,
    Timer,
    Trigger,
    move,
    waits,
)

# The reads a firing asks (kflow.followup.snapshot registers them).
SNAPSHOT = "follow_up_report.snapshot"  # the snapshot as submit freezes it
OPEN_BELOW = "follow_up_report.open_below"  # names of units below whose report is still open


class State(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    WAIVED = "waived"
    MISSED = "missed"


LABELS = {
    State.OPEN: "Att rapportera",
    State.SUBMITTED: "Inskickad",
    State.ACCEPTED: "Mottagen",
    State.WAIVED: "Ej aktuell",
    State.MISSED: "Ej inkommen",
}

REPORTERS = (Grant(Role.PROCESS_LEAD), Grant(Role.CHAIR), Grant(Role.LOCAL_LEAD))
RECIPIENT_CHAIR = Grant(Role.CHAIR, Scope.RECIPIENT)
RECEIVERS = (Grant(Role.PROCESS_LEAD, Scope.RECIPIENT), RECIPIENT_CHAIR)


def needs_analysis(snapshot: dict[str, Any]) -> bool:
    """A target not met or a deviation open below the unit calls for an analysis."""
    missed = any(row.get("status") == "not_met" for row in snapshot.get("targets", []))
    return missed or bool(snapshot.get("deviations"))


# Required only when the snapshot calls for it: the guard decides.
ANALYSIS = Param(
    "analysis",
    ParamKind.LONG_TEXT,
    "Analys",
    help="Krävs när ett mål inte är uppfyllt eller en avvikelse är öppen under enheten.",
)


def _ready(ctx: Context) -> None:
    """The reports from the units below are in, and an analysis is given when one is due."""
    waiting: list[str] = ctx.read(OPEN_BELOW)
    if waiting:
        raise ValidationError(
            "Rapporterna från enheterna under är inte inskickade än: "
            f"{', '.join(waiting)}. Skicka rapporten när de har kommit in."
        )
    if needs_analysis(ctx.read(SNAPSHOT)) and not ctx.params.get("analysis"):
        raise ValidationError(
            "'submit' kräver parametern analysis: ett mål är inte uppfyllt eller en avvikelse "
            "är öppen under enheten."
        )


def _frozen(ctx: Context) -> dict[str, Any]:
    return {"snapshot": ctx.read(SNAPSHOT), "analysis": ctx.params.get("analysis")}


def opens_on(period_end: dt.date) -> dt.date:
    """The day a period's reports open: the first working day after it ends."""
    return next_working_day(period_end + dt.timedelta(days=1))


def _due(facts: DueFacts) -> dt.date:
    """``report_due_business_days`` after the report opens (kflow.followup.reports opens it
    on ``opens_on`` the period's end) or is returned."""
    return add_business_days(facts.today, facts.settings.deadlines.report_due_business_days)


def _submitting(name: str, label: str, source: State) -> Trigger:
    """``submit`` and ``submit_late``: the same checks, snapshot and mail to the recipient."""
    return Trigger(
        name,
        label,
        (move(source, State.SUBMITTED),),
        grants=REPORTERS,
        params=(ANALYSIS,),
        guard=_ready,
        sets=_frozen,
        tells=Tell.ACTORS,
    )


# What each state waits for (Min inkorg): the report, then its recipient.
WAITS = {
    State.OPEN: waits("submit"),
    State.SUBMITTED: waits("accept", "return"),
    State.MISSED: waits("submit_late"),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.OPEN: "enheten skickar in rapporten",
    State.SUBMITTED: "mottagaren tar emot rapporten eller skickar tillbaka den",
    State.MISSED: "enheten skickar in rapporten i efterhand",
}

MACHINE = CaseMachine(
    case_type=CaseType.FOLLOW_UP_REPORT,
    label="Rapport om måluppfyllelse och avvikelser",
    states=State,
    labels=LABELS,
    initial=State.OPEN,
    final=(State.ACCEPTED, State.WAIVED),
    handoff_reason="Rapporten om måluppfyllelse och avvikelser väntar på er i kflow.",
    waits=WAITS,
    due={State.OPEN: _due},
    triggers=[
        _submitting("submit", "Skicka in", State.OPEN),
        Trigger(
            "accept",
            "Ta emot",
            (move(State.SUBMITTED, State.ACCEPTED),),
            grants=RECEIVERS,
        ),
        Trigger(
            "return",
            "Skicka tillbaka",
            (move(State.SUBMITTED, State.OPEN),),
            grants=RECEIVERS,
            comment_required=True,
        ),
        Trigger(
            "waive",
            "Markera som ej aktuell",
            (move(State.OPEN, State.WAIVED),),
            grants=(RECIPIENT_CHAIR,),
            comment_required=True,
            destructive=True,
        ),
        Trigger(
            "expire",
            "Ej inkommen",
            (move(State.OPEN, State.MISSED),),
            auto=True,
            timer=Timer("due", business_days="report_missed_after_business_days"),
        ),
        _submitting("submit_late", "Skicka in sent", State.MISSED),
    ],
)
