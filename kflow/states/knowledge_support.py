"""knowledge_support: kunskapsstöd, the national tier (lifecycle.md §2.1)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kflow.states.base import CaseMachine, Grant, Param, TriggerSpec, move


class State(StrEnum):
    NEED_IDENTIFIED = "need_identified"
    COMMISSIONED = "commissioned"
    DRAFTING = "drafting"
    REVIEW = "review"
    CONSULTATION = "consultation"
    REVISING = "revising"
    AWAITING_APPROVAL = "awaiting_approval"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


LABELS = {
    State.NEED_IDENTIFIED: "Behov identifierat",
    State.COMMISSIONED: "Uppdrag beslutat",
    State.DRAFTING: "Framtagande",
    State.REVIEW: "Granskning",
    State.CONSULTATION: "Remiss",
    State.REVISING: "Bearbetning efter remiss",
    State.AWAITING_APPROVAL: "Väntar på fastställande",
    State.PUBLISHED: "Publicerad",
    State.WITHDRAWN: "Avpublicerad",
    State.CANCELLED: "Avbruten",
}

KINDS = {
    "kliniskt_kunskapsstod": "Kliniskt kunskapsstöd",
    "vardforlopp": "Personcentrerat och sammanhållet vårdförlopp",
    "vardprogram": "Nationellt vårdprogram",
    "vardriktlinje": "Vårdriktlinje",
    "rapport": "Rapport",
}

CHANNELS = (("remiss", "Remiss"), ("synpunktsinhamtning", "Synpunktsinhämtning"))

CHAIR = Grant("chair")
PROCESS_LEAD = Grant("process_lead")


def _is_vardforlopp(case: Any) -> bool:
    return bool(case.kind == "vardforlopp")


DECISION_REF = Param("decision_ref", "text", "Beslutsreferens", required=True)
BEFORE_PUBLISHED = (
    State.NEED_IDENTIFIED,
    State.COMMISSIONED,
    State.DRAFTING,
    State.REVIEW,
    State.CONSULTATION,
    State.REVISING,
    State.AWAITING_APPROVAL,
)

MACHINE = CaseMachine(
    case_type="knowledge_support",
    label="Kunskapsstöd",
    states=State,
    state_labels=LABELS,
    initial=State.NEED_IDENTIFIED,
    final=(State.WITHDRAWN, State.CANCELLED),
    triggers=[
        TriggerSpec(
            "commission",
            "Besluta uppdrag",
            (move(State.NEED_IDENTIFIED, State.COMMISSIONED),),
            grants=(CHAIR,),
            params=(
                Param(
                    "decision_ref",
                    "text",
                    "Beslutsreferens (SKS beslut för vårdförlopp)",
                    required_if=_is_vardforlopp,
                ),
            ),
        ),
        TriggerSpec(
            "start_drafting",
            "Starta framtagande",
            (move(State.COMMISSIONED, State.DRAFTING),),
            grants=(PROCESS_LEAD, CHAIR),
        ),
        TriggerSpec(
            "approve_for_review",
            "Godkänn för granskning",
            (move(State.DRAFTING, State.REVIEW),),
            grants=(CHAIR,),
        ),
        TriggerSpec(
            "request_changes",
            "Begär ändringar",
            (
                move(State.REVIEW, State.DRAFTING),
                move(State.AWAITING_APPROVAL, State.REVISING),
            ),
            grants=(CHAIR,),
            comment_required=True,
        ),
        TriggerSpec(
            "open_consultation",
            "Skicka på remiss",
            (move(State.REVIEW, State.CONSULTATION),),
            grants=(CHAIR,),
            params=(
                Param("channel", "choice", "Kanal", required=True, choices=CHANNELS),
                Param(
                    "deadline",
                    "date",
                    "Sista svarsdag",
                    help="Lämna tomt för nästa remissfönster enligt remisskalendern.",
                ),
            ),
        ),
        TriggerSpec(
            "close_consultation",
            "Stäng remissen",
            (move(State.CONSULTATION, State.REVISING),),
            grants=(PROCESS_LEAD, CHAIR),
            auto=True,
        ),
        TriggerSpec(
            "submit_for_approval",
            "Skicka för fastställande",
            (move(State.REVISING, State.AWAITING_APPROVAL),),
            grants=(PROCESS_LEAD,),
        ),
        TriggerSpec(
            "publish",
            "Fastställ och publicera",
            (move(State.AWAITING_APPROVAL, State.PUBLISHED),),
            grants=(CHAIR,),
            params=(DECISION_REF,),
        ),
        TriggerSpec(
            "start_revision",
            "Påbörja revidering",
            (move(State.PUBLISHED, State.DRAFTING),),
            grants=(PROCESS_LEAD, CHAIR),
        ),
        TriggerSpec(
            "withdraw",
            "Avpublicera",
            (move(State.PUBLISHED, State.WITHDRAWN),),
            grants=(CHAIR,),
            comment_required=True,
        ),
        TriggerSpec(
            "cancel",
            "Avbryt",
            (move(BEFORE_PUBLISHED, State.CANCELLED),),
            grants=(CHAIR,),
            comment_required=True,
            guard="never_published",
        ),
    ],
)
