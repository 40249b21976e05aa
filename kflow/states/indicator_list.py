"""indicator_list: indikatorlista, one per region or healthcare region, year and scope
(lifecycle.md §6.3).

Its entries are targets (måltal): (indicator, unit, target value, tolerance, responsible
programme unit), written by ``set_target`` and ``remove_target`` as ``Entries`` effects so each
change is a history row of the list. The targets count from ``approve`` until ``revise``; an
approved list closes by itself on 1 February of the year after.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from kflow.errors import ValidationError
from kflow.org.roles import Role
from kflow.states.base import (
    CaseMachine,
    CaseType,
    Context,
    Entries,
    Grant,
    Param,
    ParamKind,
    Timer,
    Trigger,
    after_days,
    move,
    waits,
)

TARGETS = "indicator_targets"  # the table of the list's entries (kflow.followup.models)


class State(StrEnum):
    DRAFTING = "drafting"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


LABELS = {
    State.DRAFTING: "Under arbete",
    State.SUBMITTED: "Inlämnad för fastställande",
    State.APPROVED: "Fastställd",
    State.CLOSED: "Avslutad",
    State.CANCELLED: "Avbruten",
}
SHORT_LABELS = LABELS | {State.SUBMITTED: "Inlämnad"}

SCOPES = {
    "sjukhus": "Sjukhusvård",
    "primarvard": "Primärvård",
    "kommun": "Kommunal vård",
    "alla": "Alla vårdnivåer",
}

CHAIR = Grant(Role.CHAIR)
COORDINATOR = Grant(Role.COORDINATOR)
PROCESS_LEAD = Grant(Role.PROCESS_LEAD)
EDITORS = (COORDINATOR, PROCESS_LEAD)

INDICATOR = Param("indicator", ParamKind.ROW, "Indikator", required=True, table="indicators")
UNIT = Param("unit", ParamKind.OWN_UNIT, "Enhet", required=True)
TARGET_VALUE = Param("target_value", ParamKind.NUMBER, "Måltal", required=True)
TOLERANCE = Param(
    "tolerance_pct",
    ParamKind.NUMBER,
    "Tolerans (procent)",
    minimum=0,
    maximum=100,
    help="Hur nära målet räknas som Nära; utan värde gäller standarden (5 %).",
)
RESPONSIBLE = Param("responsible", ParamKind.UNIT, "Ansvarigt programområde")


def _target_row(ctx: Context) -> dict[str, Any]:
    params = ctx.params
    return {
        "indicator_id": int(params["indicator"]),
        "unit_id": ctx.unit_id(params["unit"]),
        "target_value": float(params["target_value"]),
        "tolerance_pct": params.get("tolerance_pct"),
        "responsible_id": ctx.unit_id(params["responsible"]) if "responsible" in params else None,
    }


def _target_key(ctx: Context) -> dict[str, Any]:
    return {
        "indicator_id": int(ctx.params["indicator"]),
        "unit_id": ctx.unit_id(ctx.params["unit"]),
    }


def _target_exists(ctx: Context) -> None:
    if ctx.count_entries(TARGETS, **_target_key(ctx)) == 0:
        raise ValidationError("Listan har inget måltal för den indikatorn och enheten.")


def _has_targets(ctx: Context) -> None:
    if ctx.count_entries(TARGETS) == 0:
        raise ValidationError("Indikatorlistan har inga måltal än; lägg till minst ett.")


def _approved(ctx: Context) -> dict[str, Any]:
    """The decision, and the day before the list closes by itself (1 February next year)."""
    year = int(ctx.case.year)
    return {
        "decision_ref": ctx.params["decision_ref"],
        "closes_on": dt.date(year + 1, 1, 31),
    }


# What each state waits for (Min inkorg); an approved list waits for nobody.
WAITS = {
    State.DRAFTING: waits("submit"),
    State.SUBMITTED: waits("approve", "request_changes"),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.DRAFTING: "processledaren eller samordnaren sätter måltal; samordnaren lämnar in",
    State.SUBMITTED: "ordföranden fastställer listan eller begär ändringar",
    State.APPROVED: "samordnaren avslutar listan när året är slut",
}

MACHINE = CaseMachine(
    case_type=CaseType.INDICATOR_LIST,
    label="Indikatorlista",
    states=State,
    labels=LABELS,
    short_labels=SHORT_LABELS,
    initial=State.DRAFTING,
    final=(State.CLOSED, State.CANCELLED),
    handoff_reason="Indikatorlistan väntar på fastställande av ordföranden.",
    region_wide=True,  # the units below read the targets set for them
    waits=WAITS,
    due={State.SUBMITTED: after_days("indicator_list_decision_days")},
    triggers=[
        Trigger(
            "set_target",
            "Sätt måltal",
            (move(State.DRAFTING, None),),
            grants=EDITORS,
            params=(INDICATOR, UNIT, TARGET_VALUE, TOLERANCE, RESPONSIBLE),
            effects=(Entries(TARGETS, row=_target_row, key=_target_key),),
        ),
        Trigger(
            "remove_target",
            "Ta bort måltal",
            (move(State.DRAFTING, None),),
            grants=EDITORS,
            params=(INDICATOR, UNIT),
            guard=_target_exists,
            effects=(Entries(TARGETS, row=None, key=_target_key),),
        ),
        Trigger(
            "submit",
            "Lämna in för fastställande",
            (move(State.DRAFTING, State.SUBMITTED),),
            grants=(COORDINATOR,),
            guard=_has_targets,
        ),
        Trigger(
            "request_changes",
            "Begär ändringar",
            (move(State.SUBMITTED, State.DRAFTING),),
            grants=(CHAIR,),
            comment_required=True,
        ),
        Trigger(
            "approve",
            "Fastställ",
            (move(State.SUBMITTED, State.APPROVED),),
            grants=(CHAIR,),
            params=(Param("decision_ref", ParamKind.TEXT, "Beslutsreferens", required=True),),
            sets=_approved,
        ),
        Trigger(
            "revise",
            "Öppna för revidering",
            (move(State.APPROVED, State.DRAFTING),),
            grants=(CHAIR,),
            comment_required=True,
        ),
        Trigger(
            "close",
            "Avsluta",
            (move(State.APPROVED, State.CLOSED),),
            grants=(COORDINATOR,),
            auto=True,
            timer=Timer("closes_on"),
        ),
        Trigger(
            "cancel",
            "Avbryt indikatorlistan",
            (move((State.DRAFTING, State.SUBMITTED), State.CANCELLED),),
            grants=(CHAIR,),
            comment_required=True,
            destructive=True,
        ),
    ],
)
