"""The stories that go beyond the straight path: a revision, a republication (every region
sent back to reassess), a withdrawal, two cancellations and a send-back from approval."""

from __future__ import annotations

from kflow.cases.models import KnowledgeSupport
from kflow.states.base import CaseType
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.national import advance
from kflow.tools.demo.people import OWNERS, REGION_STAFF
from kflow.tools.demo.stories import ENDOKRIN, HJARTA, NERV, PSVF, PSYK
from kflow.tools.demo.story import Story


def beyond_the_path(b: Builder, made: dict[str, KnowledgeSupport]) -> None:
    """Revision, republication, withdrawal, cancellation and a send-back."""
    # A revision of a published knowledge support: version 2 in drafting, 1 still in force.
    adhd = made["Adhd hos vuxna"]
    b.fire(adhd, "start_revision", OWNERS[PSYK][1], 40)
    b.fire(
        made["Autism hos barn och vuxna"],
        "cancel",
        OWNERS[PSYK][0],
        90,
        comment="Uppdraget slås ihop med NPO Barn och ungdomars hälsas arbete "
        "om neuropsykiatriska tillstånd.",
    )
    # Version 2 published: every region's adaptation is sent back to received (reassess).
    flimmer = made["Förmaksflimmer – nyupptäckt"]
    chair, lead = OWNERS[HJARTA]
    b.fire(flimmer, "start_revision", lead, 230)
    b.fire(flimmer, "approve_for_review", chair, 160)
    advance(b, flimmer, Story(flimmer.title, PSVF, HJARTA, "published", 0, responses=3), 160)
    vgr = b.child(CaseType.REGIONAL_ADAPTATION, flimmer, "vgr")
    b.fire(vgr, "start_assessment", REGION_STAFF["vgr"]["coordinator"], 8)
    # Withdrawal cancels every open regional and local case.
    b.fire(
        made["Hjärtrehabilitering"],
        "withdraw",
        chair,
        25,
        comment="Avpubliceras: innehållet ingår nu i Kranskärlssjukdom – sekundärprevention.",
    )
    # Cancelled during its consultation: the open responses are cancelled too.
    b.fire(
        made["Binjurebarksvikt"],
        "cancel",
        OWNERS[ENDOKRIN][0],
        30,
        comment="Avbryts: Socialstyrelsen tar fram nationella riktlinjer för samma område.",
    )
    b.fire(
        made["Parkinsons sjukdom"],
        "request_changes",
        OWNERS[NERV][0],
        80,
        comment="Remissvaren om rehabilitering måste arbetas in innan fastställande.",
    )
