"""knowledge_support: kunskapsstöd, the national tier (lifecycle.md §2.1).

Its triggers reach the tiers below: ``open_consultation`` creates a consultation response per
region and ``close_consultation`` expires those still open; the first ``publish`` creates a
regional adaptation per region and a later one sends them ``reassess``; ``withdraw`` and
``cancel`` cancel every open case below.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from kflow.calendar import add_months, default_consultation_deadline
from kflow.config import Settings
from kflow.errors import ValidationError
from kflow.org.roles import Role
from kflow.states import consultation_response as cr
from kflow.states import local_implementation as li
from kflow.states import regional_adaptation as ra
from kflow.states.base import (
    Below,
    Cascade,
    CaseMachine,
    CaseType,
    Context,
    DueFacts,
    Grant,
    Owners,
    Param,
    ParamKind,
    Spawn,
    Tell,
    Timer,
    Trigger,
    move,
    waits,
)


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

CHAIR = Grant(Role.CHAIR)
PROCESS_LEAD = Grant(Role.PROCESS_LEAD)
DECISION_REF = Param("decision_ref", ParamKind.TEXT, "Beslutsreferens", required=True)
BEFORE_PUBLISHED = (
    State.NEED_IDENTIFIED,
    State.COMMISSIONED,
    State.DRAFTING,
    State.REVIEW,
    State.CONSULTATION,
    State.REVISING,
    State.AWAITING_APPROVAL,
)


def _is_vardforlopp(case: Any) -> bool:
    # SKS decides which vårdförlopp are produced.
    return bool(case.kind == "vardforlopp")


def review_due(kind: str, published_on: dt.date, settings: Settings) -> dt.date:
    """The next revision: 24 months after publication (12 for a vårdprogram)."""
    months = settings.deadlines.review_months
    if kind == "vardprogram":
        months = settings.deadlines.review_months_vardprogram
    return add_months(published_on, months)


def _open_round(ctx: Context) -> dict[str, Any]:
    """A new round on the channel; without a deadline, that of the consultation calendar."""
    channel = ctx.params["channel"]
    if "deadline" in ctx.params:
        deadline = dt.date.fromisoformat(ctx.params["deadline"])
    else:
        deadline = default_consultation_deadline(channel, ctx.today, ctx.settings.consultation)
        ctx.params["deadline"] = deadline.isoformat()  # recorded in the history too
    return {
        "consultation_round": (ctx.case.consultation_round or 0) + 1,
        "consultation_channel": channel,
        "consultation_deadline": deadline,
    }


def _published(ctx: Context) -> dict[str, Any]:
    case = ctx.case
    fields = {
        "published_version": case.version,
        "published_at": ctx.now,
        "next_review_due": review_due(case.kind, ctx.today, ctx.settings),
    }
    if ctx.params.get("document_url"):  # a new link; without one the old link stays
        fields["document_url"] = check_document_url(ctx.params["document_url"])
    return fields


MAX_URL = 2000
DOCUMENT_URL = Param(
    "document_url",
    ParamKind.TEXT,
    "Länk till det publicerade dokumentet",
    help="En adress som börjar med https:// (eller http://).",
)


def check_document_url(value: Any) -> str | None:
    """The link to a published document: an absolute http(s) URL with a host, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    scheme, _, rest = text.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if (
        scheme.lower() not in ("http", "https")
        or not host
        or len(text) > MAX_URL
        or any(c.isspace() or ord(c) < 32 for c in text)
    ):
        raise ValidationError(
            "document_url måste vara en fullständig adress som börjar med https:// eller "
            f"http:// (högst {MAX_URL} tecken)."
        )
    return text


def _document_url_valid(ctx: Context) -> None:
    check_document_url(ctx.params.get("document_url"))


def _next_version(ctx: Context) -> dict[str, Any]:
    return {"version": ctx.case.version + 1}


def _version(ctx: Context) -> dict[str, Any]:
    return {"version": ctx.case.version}


def _adapted_version(ctx: Context) -> dict[str, Any]:
    return {"adapted_version": ctx.case.version}


def _never_published(ctx: Context) -> None:
    if ctx.case.published_version is not None:
        raise ValidationError(
            "Ett kunskapsstöd som har publicerats kan inte avbrytas; avpublicera det i stället."
        )


def _round(ctx: Context) -> dict[str, Any]:
    return {"round": ctx.case.consultation_round}


# One response per region and round; each is mailed to the region's people who can act on it.
ASK_THE_REGIONS = Spawn(
    cr.MACHINE,
    Owners.EACH_REGION,
    one_per=("knowledge_support_id", "round"),
    fields=_round,
)
EXPIRE_OPEN_RESPONSES = Cascade(
    cr.MACHINE,
    "expire",
    Below.ROUND,
    busy=(cr.State.DRAFTING,),
    busy_says=(
        "{n} region arbetar fortfarande med sitt svar",
        "{n} regioner arbetar fortfarande med sina svar",
    ),
)
# A later version: every adaptation (but a cancelled one) goes back to received, due anew, and
# is mailed again; regions without one (all, the first time) get one.
REASSESS = Cascade(
    ra.MACHINE,
    "reassess",
    Below.SUPPORT,
    fields=_adapted_version,
    params=_version,
    tells=Tell.ACTORS,
)
ADAPT_IN_EACH_REGION = Spawn(
    ra.MACHINE, Owners.EACH_REGION, one_per=("knowledge_support_id",), fields=_adapted_version
)
CANCEL_EVERYTHING_BELOW = (
    Cascade(cr.MACHINE, "cancel", Below.SUPPORT),
    Cascade(ra.MACHINE, "cancel", Below.SUPPORT),
    Cascade(li.MACHINE, "cancel", Below.SUPPORT),
)


def _consultation_due(facts: DueFacts) -> dt.date | None:
    return facts.case.consultation_deadline  # type: ignore[no-any-return]


def _review_due(facts: DueFacts) -> dt.date | None:
    return facts.case.next_review_due  # type: ignore[no-any-return]


# What each state waits for (Min inkorg). Drafting waits for the writers' work outside kflow,
# a consultation for the regions' answers (and closes by itself); a published support waits
# for its revision only once the review falls due.
WAITS = {
    State.NEED_IDENTIFIED: waits("commission"),
    State.COMMISSIONED: waits("start_drafting"),
    State.REVIEW: waits("open_consultation", "request_changes"),
    State.REVISING: waits("submit_for_approval"),
    State.AWAITING_APPROVAL: waits("publish", "request_changes"),
    State.PUBLISHED: waits("start_revision", near_due=True),
}

# What happens next, as a case page says it (kflow.states.next_step adds who may act).
NEXT_STEP = {
    State.NEED_IDENTIFIED: "ordföranden beslutar om uppdraget",
    State.COMMISSIONED: "processledaren eller ordföranden startar framtagandet",
    State.DRAFTING: "ordföranden godkänner underlaget för granskning",
    State.REVIEW: "ordföranden skickar på remiss eller begär ändringar",
    State.CONSULTATION: "regionerna svarar; sedan stänger processledaren eller ordföranden "
    "remissen (annars sker det automatiskt efter sista svarsdag)",
    State.REVISING: "processledaren skickar för fastställande",
    State.AWAITING_APPROVAL: "ordföranden fastställer och publicerar eller begär ändringar",
    State.PUBLISHED: "regionerna tar ställning; processledaren eller ordföranden påbörjar en "
    "revidering senast vid nästa revision",
}

MACHINE = CaseMachine(
    case_type=CaseType.KNOWLEDGE_SUPPORT,
    label="Kunskapsstöd",
    states=State,
    labels=LABELS,
    initial=State.NEED_IDENTIFIED,
    final=(State.WITHDRAWN, State.CANCELLED),
    waits=WAITS,
    due={State.CONSULTATION: _consultation_due, State.PUBLISHED: _review_due},
    triggers=[
        Trigger(
            "commission",
            "Besluta uppdrag",
            (move(State.NEED_IDENTIFIED, State.COMMISSIONED),),
            grants=(CHAIR,),
            params=(
                Param(
                    "decision_ref",
                    ParamKind.TEXT,
                    "Beslutsreferens (SKS beslut för vårdförlopp)",
                    required_if=_is_vardforlopp,
                ),
            ),
        ),
        Trigger(
            "start_drafting",
            "Starta framtagande",
            (move(State.COMMISSIONED, State.DRAFTING),),
            grants=(PROCESS_LEAD, CHAIR),
        ),
        Trigger(
            "approve_for_review",
            "Godkänn för granskning",
            (move(State.DRAFTING, State.REVIEW),),
            grants=(CHAIR,),
        ),
        Trigger(
            "request_changes",
            "Begär ändringar",
            (
                move(State.REVIEW, State.DRAFTING),
                move(State.AWAITING_APPROVAL, State.REVISING),
            ),
            grants=(CHAIR,),
            comment_required=True,
        ),
        Trigger(
            "open_consultation",
            "Skicka på remiss",
            (move(State.REVIEW, State.CONSULTATION),),
            grants=(CHAIR,),
            params=(
                Param("channel", ParamKind.CHOICE, "Kanal", required=True, choices=CHANNELS),
                Param(
                    "deadline",
                    ParamKind.DATE,
                    "Sista svarsdag",
                    help="Lämna tomt för nästa remissfönster enligt remisskalendern.",
                ),
            ),
            sets=_open_round,
            effects=(ASK_THE_REGIONS,),
        ),
        Trigger(
            "close_consultation",
            "Stäng remissen",
            (move(State.CONSULTATION, State.REVISING),),
            grants=(PROCESS_LEAD, CHAIR),
            auto=True,
            timer=Timer("consultation_deadline"),
            effects=(EXPIRE_OPEN_RESPONSES,),
        ),
        Trigger(
            "submit_for_approval",
            "Skicka för fastställande",
            (move(State.REVISING, State.AWAITING_APPROVAL),),
            grants=(PROCESS_LEAD,),
        ),
        Trigger(
            "publish",
            "Fastställ och publicera",
            (move(State.AWAITING_APPROVAL, State.PUBLISHED),),
            grants=(CHAIR,),
            params=(DECISION_REF, DOCUMENT_URL),
            guard=_document_url_valid,
            sets=_published,
            effects=(REASSESS, ADAPT_IN_EACH_REGION),
        ),
        Trigger(
            "start_revision",
            "Påbörja revidering",
            (move(State.PUBLISHED, State.DRAFTING),),
            grants=(PROCESS_LEAD, CHAIR),
            sets=_next_version,
        ),
        Trigger(
            "withdraw",
            "Avpublicera",
            (move(State.PUBLISHED, State.WITHDRAWN),),
            grants=(CHAIR,),
            comment_required=True,
            effects=CANCEL_EVERYTHING_BELOW,
            destructive=True,
        ),
        Trigger(
            "cancel",
            "Avbryt kunskapsstödet",
            (move(BEFORE_PUBLISHED, State.CANCELLED),),
            grants=(CHAIR,),
            comment_required=True,
            guard=_never_published,
            effects=CANCEL_EVERYTHING_BELOW,
            destructive=True,
        ),
    ],
)
