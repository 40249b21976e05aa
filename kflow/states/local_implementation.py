"""local_implementation: lokalt införande, one per local unit (lifecycle.md §2.4).

Born from a regional adaptation's ``hand_off`` (``BORN_FROM``; the Spawn is declared there).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from kflow.calendar import add_business_days
from kflow.org.roles import Role
from kflow.states.base import (
    KEEP,
    BornFrom,
    CaseMachine,
    CaseType,
    DueFacts,
    Grant,
    Scope,
    Tell,
    Trigger,
    Waits,
    after_days,
    move,
    waits,
)

BORN_FROM = BornFrom(CaseType.REGIONAL_ADAPTATION, "hand_off")


class State(StrEnum):
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    IMPLEMENTING = "implementing"
    IMPLEMENTED = "implemented"
    FOLLOWING_UP = "following_up"
    DEVIATION = "deviation"
    CLOSED = "closed"
    WAIVED = "waived"
    CANCELLED = "cancelled"


LABELS = {
    State.ASSIGNED: "Tilldelad",
    State.ACKNOWLEDGED: "Kvitterad",
    State.IMPLEMENTING: "Under införande",
    State.IMPLEMENTED: "Infört",
    State.FOLLOWING_UP: "Uppföljning",
    State.DEVIATION: "Avvikelse",
    State.CLOSED: "Avslutad",
    State.WAIVED: "Ej aktuell",
    State.CANCELLED: "Avbruten",
}

LOCAL_LEAD = Grant(Role.LOCAL_LEAD)
MEMBER = Grant(Role.MEMBER)
REGION_PROCESS_LEAD = Grant(Role.PROCESS_LEAD, Scope.REGION)
OPEN = (
    State.ASSIGNED,
    State.ACKNOWLEDGED,
    State.IMPLEMENTING,
    State.IMPLEMENTED,
    State.FOLLOWING_UP,
    State.DEVIATION,
)
# States in which a region may start its own follow-up (regional_adaptation.start_follow_up).
DONE = (State.IMPLEMENTED, State.FOLLOWING_UP, State.CLOSED, State.WAIVED)
# States in which the unit reports indicator measurements.
MEASURING = (State.IMPLEMENTED, State.FOLLOWING_UP)


def _acknowledge_by(facts: DueFacts) -> dt.date:
    days = facts.settings.deadlines.implementation_acknowledge_business_days
    return add_business_days(facts.today, days)


def _implemented_by(facts: DueFacts) -> dt.date:
    """The hand-off's "infört senast" if it gave one, else the default time to implement."""
    target: dt.date | None = getattr(facts.case, "target_date", None)
    days = facts.settings.deadlines.implementation_done_days
    return target or facts.today + dt.timedelta(days=days)


# What each state waits for (Min inkorg). An implemented case waits for nobody; one in
# follow-up waits for its next measurement (no trigger: a report on the indicators) only as
# that falls due.
WAITS = {
    State.ASSIGNED: waits("acknowledge"),
    State.ACKNOWLEDGED: waits("start_implementation"),
    State.IMPLEMENTING: waits("report_implemented"),
    State.FOLLOWING_UP: Waits(
        action="Rapportera mätvärde", grants=(LOCAL_LEAD, MEMBER), near_due=True
    ),
    State.DEVIATION: waits("resolve_deviation"),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.ASSIGNED: "den lokalt ansvarige eller en ledamot kvitterar överlämningen",
    State.ACKNOWLEDGED: "den lokalt ansvarige startar införandet",
    State.IMPLEMENTING: "den lokalt ansvarige rapporterar att det är infört",
    State.IMPLEMENTED: "den lokalt ansvarige rapporterar mätvärden och startar uppföljningen",
    State.FOLLOWING_UP: "enheten rapporterar mätvärden; regionens processledare avslutar",
    State.DEVIATION: "den lokalt ansvarige eller regionens processledare åtgärdar avvikelsen",
}

MACHINE = CaseMachine(
    case_type=CaseType.LOCAL_IMPLEMENTATION,
    label="Lokalt införande",
    states=State,
    labels=LABELS,
    initial=State.ASSIGNED,
    final=(State.CLOSED, State.WAIVED, State.CANCELLED),
    born_from=BORN_FROM,
    handoff_reason="Kvittera överlämningen i kflow så att regionen vet att ni tagit emot "
    "uppdraget.",
    plural="lokala införanden",
    due_says={
        State.ASSIGNED: "kvittera senast",
        State.ACKNOWLEDGED: "infört senast",
        State.IMPLEMENTING: "infört senast",
        State.FOLLOWING_UP: "nästa mätvärde senast",
        State.DEVIATION: "infört senast",
    },
    target_says="infört senast",
    waits=WAITS,
    due={
        State.ASSIGNED: _acknowledge_by,
        State.ACKNOWLEDGED: _implemented_by,
        State.IMPLEMENTING: KEEP,
        State.FOLLOWING_UP: after_days("follow_up_measurement_days"),
        State.DEVIATION: KEEP,
    },
    triggers=[
        Trigger(
            "acknowledge",
            "Kvittera",
            (move(State.ASSIGNED, State.ACKNOWLEDGED),),
            grants=(LOCAL_LEAD, MEMBER),
        ),
        Trigger(
            "start_implementation",
            "Starta införande",
            (move(State.ACKNOWLEDGED, State.IMPLEMENTING),),
            grants=(LOCAL_LEAD,),
        ),
        Trigger(
            "report_implemented",
            "Rapportera infört",
            (move(State.IMPLEMENTING, State.IMPLEMENTED),),
            grants=(LOCAL_LEAD,),
        ),
        Trigger(
            "start_follow_up",
            "Starta uppföljning",
            (move(State.IMPLEMENTED, State.FOLLOWING_UP),),
            grants=(LOCAL_LEAD,),
        ),
        Trigger(
            "report_deviation",
            "Rapportera avvikelse",
            (
                move(
                    (State.IMPLEMENTING, State.IMPLEMENTED, State.FOLLOWING_UP),
                    State.DEVIATION,
                ),
            ),
            grants=(LOCAL_LEAD, MEMBER),
            comment_required=True,
            tells=Tell.REGION_PROCESS_LEADS,
        ),
        Trigger(
            "resolve_deviation",
            "Åtgärda avvikelse",
            (move(State.DEVIATION, State.IMPLEMENTING),),
            grants=(LOCAL_LEAD, REGION_PROCESS_LEAD),
            comment_required=True,
        ),
        Trigger(
            "close",
            "Avsluta",
            (move(State.FOLLOWING_UP, State.CLOSED),),
            grants=(REGION_PROCESS_LEAD,),
        ),
        Trigger(
            "waive",
            "Markera som ej aktuell",
            (move((State.ASSIGNED, State.ACKNOWLEDGED), State.WAIVED),),
            grants=(REGION_PROCESS_LEAD,),
            comment_required=True,
            destructive=True,
        ),
        # The system's: when the knowledge support is withdrawn (knowledge_support.withdraw).
        Trigger(
            "cancel",
            "Avbryt det lokala införandet",
            (move(OPEN, State.CANCELLED),),
            auto=True,
            outcome="avbryts",
        ),
    ],
)
