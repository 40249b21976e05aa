"""consultation_response: remissvar, one per region and consultation round (lifecycle.md §2.2)."""

from __future__ import annotations

from enum import StrEnum

from kflow.states.base import REGION, CaseMachine, Grant, Param, TriggerSpec, move


class State(StrEnum):
    REQUESTED = "requested"
    DRAFTING = "drafting"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    MISSED = "missed"
    CANCELLED = "cancelled"


LABELS = {
    State.REQUESTED: "Begärt",
    State.DRAFTING: "Under arbete",
    State.SUBMITTED: "Inskickat",
    State.DECLINED: "Avstår",
    State.MISSED: "Ej besvarat",
    State.CANCELLED: "Avbrutet",
}

POSITIONS = (
    ("supports", "Tillstyrker"),
    ("supports_with_reservations", "Tillstyrker med reservationer"),
    ("opposes", "Avstyrker"),
)
OPEN = (State.REQUESTED, State.DRAFTING)

MACHINE = CaseMachine(
    case_type="consultation_response",
    label="Remissvar",
    states=State,
    state_labels=LABELS,
    initial=State.REQUESTED,
    final=(State.SUBMITTED, State.DECLINED, State.MISSED, State.CANCELLED),
    triggers=[
        TriggerSpec(
            "start_response",
            "Påbörja remissvar",
            (move(State.REQUESTED, State.DRAFTING),),
            grants=(Grant("coordinator", REGION), Grant("process_lead", REGION)),
        ),
        TriggerSpec(
            "submit",
            "Skicka in remissvar",
            (move(State.DRAFTING, State.SUBMITTED),),
            grants=(Grant("coordinator", REGION), Grant("chair", REGION)),
            comment_required=True,
            params=(
                Param("position", "choice", "Ställningstagande", required=True, choices=POSITIONS),
            ),
        ),
        TriggerSpec(
            "decline",
            "Avstå från att svara",
            (move(OPEN, State.DECLINED),),
            grants=(Grant("coordinator", REGION),),
            comment_required=True,
        ),
        TriggerSpec("expire", "Markera som ej besvarat", (move(OPEN, State.MISSED),), auto=True),
        TriggerSpec("cancel", "Avbryt", (move(OPEN, State.CANCELLED),), auto=True),
    ],
)
