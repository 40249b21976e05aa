"""A knowledge support's national path: identified, commissioned, drafted, reviewed, out for
consultation (the demo regions answer), approved and published; then each region's share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kflow.calendar import next_working_day, previous_working_day
from kflow.cases.models import KnowledgeSupport
from kflow.engine.create import create_knowledge_support
from kflow.followup import indicators
from kflow.states.base import CaseType
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.people import OWNERS, REGION_STAFF
from kflow.tools.demo.regional import regional
from kflow.tools.demo.story import Story
from kflow.tools.demo.texts import INDICATORS, RESPONSE_PATTERNS, RESPONSE_TEXT
from kflow.tools.demo.units import REGION_NAMES

NATIONAL_PATH = (
    ("commission", "commissioned"),
    ("start_drafting", "drafting"),
    ("approve_for_review", "review"),
    ("open_consultation", "consultation"),
    ("close_consultation", "revising"),
    ("submit_for_approval", "awaiting_approval"),
    ("publish", "published"),
)
# Days before each step (open_consultation -> close_consultation follows the deadline).
NATIONAL_GAP = {
    "commission": 12,
    "start_drafting": 9,
    "approve_for_review": 70,
    "open_consultation": 18,
    "submit_for_approval": 28,
    "publish": 20,
}
CONSULTATION_DAYS = 56


def story(b: Builder, told: Story) -> KnowledgeSupport:
    """Create the story's knowledge support and drive it, and its regions, where it goes."""
    chair, lead = OWNERS[told.owner]
    ks = create_knowledge_support(
        b.session,
        b.authority(chair),
        title=told.title,
        kind=told.kind,
        owner=told.owner,
        description=told.description,
        now=b.at(told.start),
    )
    advance(b, ks, told, told.start)
    for name, unit, target, direction in INDICATORS.get(told.title, []):
        indicators.define_indicator(
            b.session,
            b.authority(lead),
            ks,
            name=name,
            unit_of_measure=unit,
            target_value=target,
            direction=direction,
        )
    for spec in told.regional:
        regional(b, ks, spec)
    return ks


def advance(b: Builder, ks: KnowledgeSupport, told: Story, day: int) -> None:
    """Drive ``ks`` along the national path to ``told.until``, from ``day`` days ago."""
    chair, lead = OWNERS[told.owner]
    states = [state for trigger, state in NATIONAL_PATH]
    if ks.state == told.until:
        return
    first = states.index(ks.state) + 1 if ks.state in states else 0
    for trigger, state in NATIONAL_PATH[first:]:
        if trigger == "close_consultation":
            assert ks.consultation_deadline is not None
            day = b.days_ago(next_working_day(ks.consultation_deadline + dt.timedelta(1)))
            b.fire(ks, trigger, "system", day)
        elif trigger == "open_consultation":
            day -= NATIONAL_GAP[trigger]
            consultation(b, ks, told, day)
        else:
            day -= NATIONAL_GAP[trigger]
            who = chair
            params: dict[str, Any] = {}
            if trigger in ("start_drafting", "submit_for_approval"):
                who = lead
            if trigger == "commission" and ks.kind == "vardforlopp":
                params = {"decision_ref": decision_ref(b, "SKS", day)}
            if trigger == "publish":
                params = {"decision_ref": publish_ref(b, ks, day)}
            b.fire(ks, trigger, who, day, **params)
        if state == told.until:
            break
    assert ks.state == told.until, (told.title, ks.state)


def consultation(b: Builder, ks: KnowledgeSupport, told: Story, day: int) -> None:
    """Open a consultation on ``day`` and let the demo regions answer."""
    chair, _ = OWNERS[told.owner]
    params: dict[str, Any] = {"channel": told.channel}
    if told.until == "consultation":
        if told.deadline_in is not None:
            params["deadline"] = (b.today + dt.timedelta(told.deadline_in)).isoformat()
    else:
        closes = previous_working_day(b.day(day) + dt.timedelta(CONSULTATION_DAYS))
        params["deadline"] = closes.isoformat()
    b.fire(ks, "open_consultation", chair, day, **params)
    assert ks.consultation_deadline is not None
    last = max(1, b.days_ago(ks.consultation_deadline) + 1)
    pattern = RESPONSE_PATTERNS[told.responses % len(RESPONSE_PATTERNS)]
    for offset, (region, answer) in enumerate(pattern.items()):
        if answer is not None:
            _respond(b, ks, region, answer, offset, day, last)


def _respond(
    b: Builder, ks: KnowledgeSupport, region: str, answer: str, offset: int, day: int, last: int
) -> None:
    """Let ``region`` answer the consultation opened ``day`` days ago, closing ``last``."""
    staff = REGION_STAFF[region]
    response = b.child(CaseType.CONSULTATION_RESPONSE, ks, region)
    started = max(last + 1, day - 4 - 3 * offset)
    if started >= day:
        started = day - 1
    if started < 1:
        return
    lead = staff["process_lead"] if offset % 2 else staff["coordinator"]
    if answer != "decline":
        b.fire(response, "start_response", lead, started)
    sent = max(last, started - 12)
    if answer == "drafting" or sent < 1 or sent >= started:
        return
    name = REGION_NAMES[region]
    if answer == "decline":
        comment = RESPONSE_TEXT["decline"].format(region=name)
        b.fire(response, "decline", staff["coordinator"], sent, comment=comment)
    else:
        who = staff["chair"] if offset % 2 else staff["coordinator"]
        comment = RESPONSE_TEXT[answer].format(region=name)
        b.fire(response, "submit", who, sent, comment=comment, position=answer)


def decision_ref(b: Builder, prefix: str, days_ago: int) -> str:
    return f"{prefix} {b.day(days_ago).year}:{b.number()}"


def publish_ref(b: Builder, ks: KnowledgeSupport, days_ago: int) -> str:
    if ks.kind == "vardforlopp":
        return decision_ref(b, "SKS", days_ago)
    return f"NPO-beslut {b.day(days_ago).isoformat()} §{b.number() % 17 + 2}"
