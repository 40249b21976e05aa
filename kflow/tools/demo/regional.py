"""A region's adaptation of a published knowledge support: assessed, decided on, adapted,
handed off to local units (kflow.tools.demo.local), followed up and closed."""

from __future__ import annotations

import datetime as dt

from kflow.cases.models import Case, KnowledgeSupport
from kflow.states.base import CaseType
from kflow.tools.demo.builder import Builder
from kflow.tools.demo.local import local
from kflow.tools.demo.people import REGION_STAFF
from kflow.tools.demo.story import Regional
from kflow.tools.demo.texts import GAP_ANALYSES
from kflow.tools.demo.units import DECISION_PREFIX


def regional(b: Builder, ks: KnowledgeSupport, spec: Regional) -> None:
    """Drive the region's adaptation of ``ks`` to ``spec.until``."""
    ra = b.child(CaseType.REGIONAL_ADAPTATION, ks, spec.region)
    adopted = _decide(b, ra, spec)
    if adopted is not None:
        _carry_out(b, ks, ra, spec, adopted)


def _decide(b: Builder, ra: Case, spec: Regional) -> int | None:
    """Assess the knowledge support and decide on it; the day it was adopted, or None where
    the story ends before it goes further."""
    staff = REGION_STAFF[spec.region]
    day = spec.start
    # Who does the regional group's work when the adaptation is assigned to it.
    group_lead = "rpo.vgr" if spec.assign == "vgr-rpo-psykisk-halsa" else None
    if spec.assign:
        b.fire(ra, "assign", staff["coordinator"], day, unit=spec.assign)
        day -= 2
    if spec.until == "received":
        return None
    b.fire(ra, "start_assessment", group_lead or staff["coordinator"], day)
    if spec.until == "assessing":
        return None
    if spec.until == "on_hold":
        b.fire(
            ra,
            "put_on_hold",
            staff["process_lead"],
            day - spec.gap,
            comment="Vilande i väntan på regionens budgetbeslut för nästa år.",
        )
        return None
    day -= spec.gap
    analysis = b.text(GAP_ANALYSES)
    b.fire(ra, "submit_for_decision", group_lead or staff["process_lead"], day, comment=analysis)
    if spec.until == "awaiting_decision":
        return None
    day -= spec.gap
    if spec.until == "not_adopted":
        b.fire(
            ra,
            "reject",
            staff["chair"],
            day,
            comment="Införs inte nu: befintligt regionalt vårdprogram täcker behovet "
            "och ses över nästa år.",
        )
        return None
    ref = f"{DECISION_PREFIX[spec.region]} {b.day(day).year}-{b.number():05d}"
    b.fire(ra, "adopt", staff["chair"], day, decision_ref=ref)
    return None if spec.until == "adopted" else day


def _carry_out(b: Builder, ks: KnowledgeSupport, ra: Case, spec: Regional, day: int) -> None:
    """After the adoption ``day`` days ago: adapt, hand off, follow up and close."""
    staff = REGION_STAFF[spec.region]
    day -= spec.gap
    b.fire(ra, "start_adaptation", staff["process_lead"], day)
    if spec.until == "adapting":
        return
    day -= spec.gap
    target = (b.day(day) + dt.timedelta(days=150)).isoformat()
    b.fire(ra, "hand_off", staff["coordinator"], day, units=sorted(spec.locals), due=target)
    last = day
    for index, (unit, state) in enumerate(spec.locals.items()):
        li = b.child(CaseType.LOCAL_IMPLEMENTATION, ks, unit, parent=ra)
        last = min(last, local(b, li, spec.region, unit, state, day, spec.gap, index))
    if spec.until == "implementing":
        return
    day = min(day, last) - spec.gap // 2
    b.fire(ra, "start_follow_up", staff["process_lead"], day)
    if spec.until == "following_up":
        return
    b.fire(ra, "close", staff["coordinator"], day - spec.gap)
    assert spec.until == "closed", spec
