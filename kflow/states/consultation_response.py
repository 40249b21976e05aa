"""consultation_response: remissvar, one per region and consultation round (lifecycle.md §2.2).

Born from a knowledge support's ``open_consultation`` (``BORN_FROM``); expired by its
``close_consultation`` and cancelled by its ``cancel`` (the Cascades are declared there).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from kflow.org.roles import Role
from kflow.states.base import (
    KEEP,
    BornFrom,
    CaseMachine,
    CaseType,
    Context,
    DueFacts,
    Grant,
    Param,
    ParamKind,
    Scope,
    Trigger,
    move,
    waits,
)

BORN_FROM = BornFrom(CaseType.KNOWLEDGE_SUPPORT, "open_consultation")


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
COORDINATOR = Grant(Role.COORDINATOR, Scope.REGION)


def _consultation_deadline(facts: DueFacts) -> dt.date | None:
    """Due at the consultation's deadline (the knowledge support's, read as it opens)."""
    return facts.parent.consultation_deadline if facts.parent is not None else facts.previous


def _position(ctx: Context) -> dict[str, Any]:
    return {"position": ctx.params["position"]}


# What each state waits for (Min inkorg): the region's answer.
WAITS = {
    State.REQUESTED: waits("start_response", "decline"),
    State.DRAFTING: waits("submit", "decline"),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.REQUESTED: "samordnaren eller processledaren påbörjar svaret, eller samordnaren avstår",
    State.DRAFTING: "samordnaren eller ordföranden skickar in svaret",
}

MACHINE = CaseMachine(
    case_type=CaseType.CONSULTATION_RESPONSE,
    label="Remissvar",
    states=State,
    labels=LABELS,
    initial=State.REQUESTED,
    final=(State.SUBMITTED, State.DECLINED, State.MISSED, State.CANCELLED),
    born_from=BORN_FROM,
    region_wide=True,
    handoff_reason="Regionen ombeds lämna remissvar senast förfallodagen.",
    plural="remissvar",
    due_says={State.REQUESTED: "svara senast", State.DRAFTING: "svara senast"},
    waits=WAITS,
    due={State.REQUESTED: _consultation_deadline, State.DRAFTING: KEEP},
    triggers=[
        Trigger(
            "start_response",
            "Påbörja remissvar",
            (move(State.REQUESTED, State.DRAFTING),),
            grants=(COORDINATOR, Grant(Role.PROCESS_LEAD, Scope.REGION)),
        ),
        Trigger(
            "submit",
            "Skicka in remissvar",
            (move(State.DRAFTING, State.SUBMITTED),),
            grants=(COORDINATOR, Grant(Role.CHAIR, Scope.REGION)),
            comment_required=True,
            params=(
                Param(
                    "position",
                    ParamKind.CHOICE,
                    "Ställningstagande",
                    required=True,
                    choices=POSITIONS,
                ),
            ),
            sets=_position,
        ),
        Trigger(
            "decline",
            "Avstå från att svara",
            (move(OPEN, State.DECLINED),),
            grants=(COORDINATOR,),
            comment_required=True,
        ),
        # The system's: when the consultation closes, when the knowledge support is cancelled.
        Trigger(
            "expire",
            "Markera som ej besvarat",
            (move(OPEN, State.MISSED),),
            auto=True,
            outcome="markeras som ej besvarade",
        ),
        Trigger(
            "cancel",
            "Avbryt remissvaret",
            (move(OPEN, State.CANCELLED),),
            auto=True,
            outcome="avbryts",
        ),
    ],
)
