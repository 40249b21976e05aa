"""regional_adaptation: regional tillämpning and ställningstagande, one per region (§2.3)."""

from __future__ import annotations

from enum import StrEnum

from kflow.states.base import CaseMachine, Grant, Param, TriggerSpec, move


class State(StrEnum):
    RECEIVED = "received"
    ASSESSING = "assessing"
    ON_HOLD = "on_hold"
    AWAITING_DECISION = "awaiting_decision"
    ADOPTED = "adopted"
    NOT_ADOPTED = "not_adopted"
    ADAPTING = "adapting"
    IMPLEMENTING = "implementing"
    FOLLOWING_UP = "following_up"
    CLOSED = "closed"
    CANCELLED = "cancelled"


LABELS = {
    State.RECEIVED: "Mottagen",
    State.ASSESSING: "Prioritering och konsekvensanalys",
    State.ON_HOLD: "Vilande",
    State.AWAITING_DECISION: "Beredning, väntar på beslut",
    State.ADOPTED: "Beslut: införs",
    State.NOT_ADOPTED: "Beslut: införs ej",
    State.ADAPTING: "Regional tillämpning",
    State.IMPLEMENTING: "Införande pågår lokalt",
    State.FOLLOWING_UP: "Uppföljning",
    State.CLOSED: "Avslutad",
    State.CANCELLED: "Avbruten",
}

COORDINATOR = Grant("coordinator")
PROCESS_LEAD = Grant("process_lead")
CHAIR = Grant("chair")
# Open: still moving. not_adopted and closed are decisions that stand until a new version
# arrives (reassess); cancelled is final.
OPEN = (
    State.RECEIVED,
    State.ASSESSING,
    State.ON_HOLD,
    State.AWAITING_DECISION,
    State.ADOPTED,
    State.ADAPTING,
    State.IMPLEMENTING,
    State.FOLLOWING_UP,
)

MACHINE = CaseMachine(
    case_type="regional_adaptation",
    label="Regional tillämpning",
    states=State,
    state_labels=LABELS,
    initial=State.RECEIVED,
    final=(State.NOT_ADOPTED, State.CLOSED, State.CANCELLED),
    triggers=[
        TriggerSpec(
            "assign",
            "Tilldela regional grupp",
            (move((State.RECEIVED, State.ASSESSING), None),),
            grants=(COORDINATOR,),
            params=(Param("unit", "unit", "Regional grupp", required=True),),
        ),
        TriggerSpec(
            "start_assessment",
            "Starta prioritering",
            (move(State.RECEIVED, State.ASSESSING),),
            grants=(COORDINATOR, PROCESS_LEAD),
        ),
        TriggerSpec(
            "put_on_hold",
            "Lägg vilande",
            (move(State.ASSESSING, State.ON_HOLD),),
            grants=(COORDINATOR, PROCESS_LEAD),
            comment_required=True,
        ),
        TriggerSpec(
            "resume",
            "Återuppta",
            (move(State.ON_HOLD, State.ASSESSING),),
            grants=(COORDINATOR, PROCESS_LEAD),
        ),
        TriggerSpec(
            "submit_for_decision",
            "Skicka för beslut",
            (move(State.ASSESSING, State.AWAITING_DECISION),),
            grants=(PROCESS_LEAD, COORDINATOR),
            comment_required=True,
        ),
        TriggerSpec(
            "adopt",
            "Besluta: införs",
            (move(State.AWAITING_DECISION, State.ADOPTED),),
            grants=(CHAIR,),
            params=(Param("decision_ref", "text", "Beslutsreferens", required=True),),
        ),
        TriggerSpec(
            "reject",
            "Besluta: införs ej",
            (move(State.AWAITING_DECISION, State.NOT_ADOPTED),),
            grants=(CHAIR,),
            comment_required=True,
        ),
        TriggerSpec(
            "start_adaptation",
            "Starta regional tillämpning",
            (move(State.ADOPTED, State.ADAPTING),),
            grants=(PROCESS_LEAD, COORDINATOR),
        ),
        TriggerSpec(
            "hand_off",
            "Lämna över till lokala enheter",
            (move((State.ADOPTED, State.ADAPTING), State.IMPLEMENTING),),
            grants=(COORDINATOR, PROCESS_LEAD),
            params=(
                Param("units", "units", "Lokala enheter", required=True),
                Param("due", "date", "Klart senast"),
            ),
        ),
        TriggerSpec(
            "start_follow_up",
            "Starta uppföljning",
            (move(State.IMPLEMENTING, State.FOLLOWING_UP),),
            grants=(PROCESS_LEAD,),
            guard="implementations_done",
        ),
        TriggerSpec(
            "close",
            "Avsluta",
            (move(State.FOLLOWING_UP, State.CLOSED),),
            grants=(COORDINATOR, CHAIR),
        ),
        TriggerSpec(
            "reassess",
            "Ompröva ny version",
            (move([s for s in State if s != State.CANCELLED], State.RECEIVED),),
            auto=True,
        ),
        TriggerSpec("cancel", "Avbryt", (move(OPEN, State.CANCELLED),), auto=True),
    ],
)
