"""regional_adaptation: regional tillämpning and ställningstagande, one per region (§2.3).

Born from a knowledge support's first ``publish`` (``BORN_FROM``); a later publish sends it
``reassess`` and a withdrawal ``cancel`` (the Cascades are declared in knowledge_support).
Its ``hand_off`` creates the local implementations.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from kflow.errors import ValidationError
from kflow.org.roles import Role
from kflow.states import local_implementation as li
from kflow.states.base import (
    KEEP,
    BornFrom,
    CaseMachine,
    CaseType,
    Context,
    Grant,
    Owners,
    Param,
    ParamKind,
    Spawn,
    Trigger,
    after_days,
    move,
    waits,
)

BORN_FROM = BornFrom(CaseType.KNOWLEDGE_SUPPORT, "publish")


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
# For the overview matrix, where a cell is narrow.
SHORT_LABELS = {
    State.RECEIVED: "Mottagen",
    State.ASSESSING: "Prioriteras",
    State.ON_HOLD: "Vilande",
    State.AWAITING_DECISION: "Väntar beslut",
    State.ADOPTED: "Införs",
    State.NOT_ADOPTED: "Införs ej",
    State.ADAPTING: "Tillämpas",
    State.IMPLEMENTING: "Införande",
    State.FOLLOWING_UP: "Uppföljning",
    State.CLOSED: "Avslutad",
    State.CANCELLED: "Avbruten",
}

COORDINATOR = Grant(Role.COORDINATOR)
PROCESS_LEAD = Grant(Role.PROCESS_LEAD)
CHAIR = Grant(Role.CHAIR)
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


def _assignee(ctx: Context) -> dict[str, Any]:
    return {"assignee_id": ctx.unit_id(ctx.params["unit"])}


def _decision(ctx: Context) -> dict[str, Any]:
    return {"decision_ref": ctx.params["decision_ref"]}


def _implementations_done(ctx: Context) -> None:
    pending = ctx.count_below(
        CaseType.LOCAL_IMPLEMENTATION, parent=True, not_in=(*li.DONE, li.State.CANCELLED)
    )
    if pending:
        raise ValidationError(
            "Uppföljning kan startas först när alla lokala införanden är klara "
            f"({pending} återstår)."
        )


def _hand_off_fields(ctx: Context) -> dict[str, Any]:
    """ "Infört senast" (``due``) becomes the implementations' target date."""
    due = ctx.params.get("due")
    return {"target_date": dt.date.fromisoformat(due) if due else None}


# One local implementation per named unit; a unit that already has an open one from this
# adaptation is skipped (and counted as such); each is mailed to the unit's people.
HAND_OFF = Spawn(
    li.MACHINE,
    Owners.UNITS_PARAM,
    one_per=("parent_id",),
    open_only=True,
    parent=True,
    fields=_hand_off_fields,
)

# What each state waits for (Min inkorg). A case on hold waits only as its deadline nears; one
# being implemented waits for its local units, one in follow-up for nobody in kflow.
WAITS = {
    State.RECEIVED: waits("start_assessment", "assign"),
    State.ASSESSING: waits("submit_for_decision"),
    State.ON_HOLD: waits("resume", near_due=True),
    State.AWAITING_DECISION: waits("adopt", "reject"),
    State.ADOPTED: waits("hand_off", "start_adaptation"),
    State.ADAPTING: waits("hand_off"),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.RECEIVED: "samordnaren startar prioriteringen eller tilldelar en regional grupp",
    State.ASSESSING: "processledaren eller samordnaren skickar underlaget för beslut",
    State.ON_HOLD: "processledaren eller samordnaren återupptar prioriteringen",
    State.AWAITING_DECISION: "ordföranden beslutar",
    State.ADOPTED: "samordnaren eller processledaren lämnar över till lokala enheter",
    State.ADAPTING: "samordnaren eller processledaren lämnar över till lokala enheter",
    State.IMPLEMENTING: "de lokala enheterna inför; sedan startar processledaren uppföljningen",
    State.FOLLOWING_UP: "samordnaren eller ordföranden avslutar uppföljningen",
    State.NOT_ADOPTED: "inget; beslutet gäller tills en ny version publiceras",
    State.CLOSED: "inget; ärendet öppnas igen om en ny version publiceras",
}

MACHINE = CaseMachine(
    case_type=CaseType.REGIONAL_ADAPTATION,
    label="Regional tillämpning",
    states=State,
    labels=LABELS,
    short_labels=SHORT_LABELS,
    initial=State.RECEIVED,
    final=(State.NOT_ADOPTED, State.CLOSED, State.CANCELLED),
    born_from=BORN_FROM,
    region_wide=True,
    handoff_reason="Ett nytt eller reviderat kunskapsstöd har publicerats och ska tas "
    "ställning till i regionen.",
    plural="regionala tillämpningar",
    due_says={
        State.RECEIVED: "beslutat senast",
        State.ASSESSING: "beslutat senast",
        State.ON_HOLD: "beslutat senast",
        State.AWAITING_DECISION: "beslutat senast",
        State.ADOPTED: "överlämnat senast",
        State.ADAPTING: "överlämnat senast",
    },
    waits=WAITS,
    due={
        State.RECEIVED: after_days("adaptation_decision_days"),
        State.ASSESSING: KEEP,
        State.ON_HOLD: KEEP,
        State.AWAITING_DECISION: KEEP,
        State.ADOPTED: after_days("adaptation_handoff_days"),
        State.ADAPTING: KEEP,
    },
    triggers=[
        Trigger(
            "assign",
            "Tilldela regional grupp",
            (move((State.RECEIVED, State.ASSESSING), None),),
            grants=(COORDINATOR,),
            params=(
                Param(
                    "unit",
                    ParamKind.UNIT,
                    "Regional grupp",
                    required=True,
                    help="En regional grupp i regionen eller i en sjukvårdsregion som regionen "
                    "hör till.",
                ),
            ),
            sets=_assignee,
        ),
        Trigger(
            "start_assessment",
            "Starta prioritering",
            (move(State.RECEIVED, State.ASSESSING),),
            grants=(COORDINATOR, PROCESS_LEAD),
        ),
        Trigger(
            "put_on_hold",
            "Lägg vilande",
            (move(State.ASSESSING, State.ON_HOLD),),
            grants=(COORDINATOR, PROCESS_LEAD),
            comment_required=True,
        ),
        Trigger(
            "resume",
            "Återuppta",
            (move(State.ON_HOLD, State.ASSESSING),),
            grants=(COORDINATOR, PROCESS_LEAD),
        ),
        Trigger(
            "submit_for_decision",
            "Skicka för beslut",
            (move(State.ASSESSING, State.AWAITING_DECISION),),
            grants=(PROCESS_LEAD, COORDINATOR),
            comment_required=True,
        ),
        Trigger(
            "adopt",
            "Besluta: införs",
            (move(State.AWAITING_DECISION, State.ADOPTED),),
            grants=(CHAIR,),
            params=(Param("decision_ref", ParamKind.TEXT, "Beslutsreferens", required=True),),
            sets=_decision,
        ),
        Trigger(
            "reject",
            "Besluta: införs ej",
            (move(State.AWAITING_DECISION, State.NOT_ADOPTED),),
            grants=(CHAIR,),
            comment_required=True,
            destructive=True,
        ),
        Trigger(
            "start_adaptation",
            "Starta regional tillämpning",
            (move(State.ADOPTED, State.ADAPTING),),
            grants=(PROCESS_LEAD, COORDINATOR),
        ),
        Trigger(
            "hand_off",
            "Lämna över till lokala enheter",
            (move((State.ADOPTED, State.ADAPTING), State.IMPLEMENTING),),
            grants=(COORDINATOR, PROCESS_LEAD),
            params=(
                Param("units", ParamKind.UNITS, "Lokala enheter", required=True),
                Param("due", ParamKind.DATE, "Infört senast"),
            ),
            effects=(HAND_OFF,),
        ),
        Trigger(
            "start_follow_up",
            "Starta uppföljning",
            (move(State.IMPLEMENTING, State.FOLLOWING_UP),),
            grants=(PROCESS_LEAD,),
            guard=_implementations_done,
        ),
        Trigger(
            "close",
            "Avsluta",
            (move(State.FOLLOWING_UP, State.CLOSED),),
            grants=(COORDINATOR, CHAIR),
        ),
        # The system's: on a new published version (knowledge_support.publish), on withdrawal.
        Trigger(
            "reassess",
            "Ompröva ny version",
            (move([s for s in State if s != State.CANCELLED], State.RECEIVED),),
            auto=True,
        ),
        Trigger(
            "cancel",
            "Avbryt den regionala tillämpningen",
            (move(OPEN, State.CANCELLED),),
            auto=True,
            outcome="avbryts",
        ),
    ],
)
