"""local_implementation: lokalt införande, one per local unit (lifecycle.md §2.4)."""

from __future__ import annotations

from enum import StrEnum

from kflow.states.base import REGION, CaseMachine, Grant, TriggerSpec, move


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

LOCAL_LEAD = Grant("local_lead")
MEMBER = Grant("member")
REGION_PROCESS_LEAD = Grant("process_lead", REGION)
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

MACHINE = CaseMachine(
    case_type="local_implementation",
    label="Lokalt införande",
    states=State,
    state_labels=LABELS,
    initial=State.ASSIGNED,
    final=(State.CLOSED, State.WAIVED, State.CANCELLED),
    triggers=[
        TriggerSpec(
            "acknowledge",
            "Kvittera",
            (move(State.ASSIGNED, State.ACKNOWLEDGED),),
            grants=(LOCAL_LEAD, MEMBER),
        ),
        TriggerSpec(
            "start_implementation",
            "Starta införande",
            (move(State.ACKNOWLEDGED, State.IMPLEMENTING),),
            grants=(LOCAL_LEAD,),
        ),
        TriggerSpec(
            "report_implemented",
            "Rapportera infört",
            (move(State.IMPLEMENTING, State.IMPLEMENTED),),
            grants=(LOCAL_LEAD,),
        ),
        TriggerSpec(
            "start_follow_up",
            "Starta uppföljning",
            (move(State.IMPLEMENTED, State.FOLLOWING_UP),),
            grants=(LOCAL_LEAD,),
        ),
        TriggerSpec(
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
        ),
        TriggerSpec(
            "resolve_deviation",
            "Åtgärda avvikelse",
            (move(State.DEVIATION, State.IMPLEMENTING),),
            grants=(LOCAL_LEAD, REGION_PROCESS_LEAD),
            comment_required=True,
        ),
        TriggerSpec(
            "close",
            "Avsluta",
            (move(State.FOLLOWING_UP, State.CLOSED),),
            grants=(REGION_PROCESS_LEAD,),
        ),
        TriggerSpec(
            "waive",
            "Markera som ej aktuell",
            (move((State.ASSIGNED, State.ACKNOWLEDGED), State.WAIVED),),
            grants=(REGION_PROCESS_LEAD,),
            comment_required=True,
        ),
        TriggerSpec("cancel", "Avbryt", (move(OPEN, State.CANCELLED),), auto=True),
    ],
)
