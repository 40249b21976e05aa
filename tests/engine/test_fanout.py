"""Fan-out and cascades (lifecycle.md §2): counts, states, history rows, unique indexes."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kflow.calendar import add_business_days, add_months, local_date
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, ConsultationResponse, LocalImplementation, RegionalAdaptation
from kflow.db import utcnow
from kflow.org.models import Unit
from tests.support.checks import add_user, count_cases, refused

N_REGIONS = 21


def children(session, case_type, ks, **filters):
    query = select(Case).where(Case.type == case_type, Case.knowledge_support_id == ks.id)
    for name, value in filters.items():
        query = query.where(Case.__table__.c[name] == value)
    return list(session.scalars(query.order_by(Case.id)))


def rows(session, trigger, case_ids):
    """History rows of ``trigger`` on ``case_ids``, by case id."""
    found = session.scalars(
        select(CaseEvent).where(CaseEvent.trigger == trigger, CaseEvent.case_id.in_(case_ids))
    )
    by_case: dict[int, list[CaseEvent]] = {}
    for row in found:
        by_case.setdefault(row.case_id, []).append(row)
    return by_case


def assert_one_row_each(session, trigger, cases, actor="system"):
    """Exactly one ``trigger`` row for each of ``cases`` and none elsewhere in this session."""
    by_case = rows(session, trigger, [c.id for c in cases])
    assert {cid: len(rs) for cid, rs in by_case.items()} == {c.id: 1 for c in cases}
    for case in cases:
        [row] = by_case[case.id]
        assert (row.actor, row.to_state) == (actor, case.state)
        if actor == "system":
            assert (row.actor_id, row.role) == (None, None)
    return {cid: rs[0] for cid, rs in by_case.items()}


def region_ids(session):
    return set(session.scalars(select(Unit.id).where(Unit.kind == "region")))


def republish(world, ks, now=None):
    """published -> new version -> published again, by the NPO."""
    extra = {"now": now} if now else {}
    world.fire(ks, "start_revision", "npo-lead", **extra)
    world.fire(ks, "approve_for_review", "npo-chair", **extra)
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, **extra)
    world.fire(ks, "close_consultation", "npo-lead", **extra)
    world.fire(ks, "submit_for_approval", "npo-lead", **extra)
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-2027-4"}, **extra)


# --- consultation ----------------------------------------------------------------------------


def test_open_consultation_asks_every_region(world):
    session = world.session
    ks = world.ks_in("review")
    deadline = local_date(utcnow()) + dt.timedelta(days=60)
    fired = world.fire(
        ks,
        "open_consultation",
        "npo-chair",
        params={"channel": "synpunktsinhamtning", "deadline": deadline.isoformat()},
    )
    assert fired.params == {"channel": "synpunktsinhamtning", "deadline": deadline.isoformat()}
    assert (ks.state, ks.consultation_round, ks.consultation_deadline) == (
        "consultation",
        1,
        deadline,
    )
    responses = children(session, "consultation_response", ks)
    assert len(responses) == N_REGIONS
    assert {r.owner_id for r in responses} == region_ids(session)
    for response in responses:
        assert isinstance(response, ConsultationResponse)
        assert (response.state, response.round, response.due) == ("requested", 1, deadline)
        assert response.region_id == response.owner_id
    created = assert_one_row_each(session, "create", responses, actor="npo-chair@test.se")
    for row in created.values():
        assert (row.from_state, row.role) == (None, "chair")
        assert row.params == {"cause": f"knowledge_support.{ks.id}"}


def test_default_deadline_is_the_next_window_close(world):
    session = world.session
    ks = world.ks_in("review")
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"})
    assert ks.consultation_deadline > local_date(utcnow())
    due = {r.due for r in children(session, "consultation_response", ks)}
    assert due == {ks.consultation_deadline}
    row = session.scalar(
        select(CaseEvent).where(
            CaseEvent.case_id == ks.id, CaseEvent.trigger == "open_consultation"
        )
    )
    assert row.params == {"channel": "remiss", "deadline": ks.consultation_deadline.isoformat()}


def test_close_consultation_expires_only_open_responses(world):
    session = world.session
    add_user(world, "halland-coordinator", ("coordinator", "halland"))
    ks = world.ks_in("consultation")
    vgr = world.case_of("consultation_response", ks, "vgr")
    skane = world.case_of("consultation_response", ks, "skane")
    halland = world.case_of("consultation_response", ks, "halland")
    world.fire(vgr, "start_response", "vgr-lead")
    world.fire(skane, "start_response", "skane-coordinator")
    world.fire(skane, "submit", "skane-chair", comment="Bra", params={"position": "supports"})
    world.fire(halland, "decline", "halland-coordinator", comment="Inga synpunkter")
    before = {
        r.id: (r.state, r.lock_version) for r in children(session, "consultation_response", ks)
    }

    world.fire(ks, "close_consultation", "npo-lead")
    assert ks.state == "revising"
    responses = children(session, "consultation_response", ks)
    states = Counter(r.state for r in responses)
    assert states == {"missed": N_REGIONS - 2, "submitted": 1, "declined": 1}
    moved = [r for r in responses if r.state == "missed"]
    assert vgr in moved  # drafting is expired too
    expired = assert_one_row_each(session, "expire", moved)
    for response in moved:
        assert expired[response.id].from_state == before[response.id][0]
        assert expired[response.id].params == {"cause": f"knowledge_support.{ks.id}"}
        assert response.lock_version == before[response.id][1] + 1
        assert response.due is None
    assert (skane.state, skane.position, halland.state) == ("submitted", "supports", "declined")
    assert (skane.lock_version, halland.lock_version) == (
        before[skane.id][1],
        before[halland.id][1],
    )
    assert rows(session, "expire", [skane.id, halland.id]) == {}


def test_second_round_after_a_revision(world):
    session = world.session
    ks = world.ks_in("published")
    first = children(session, "consultation_response", ks)
    assert len(first) == N_REGIONS
    assert {r.state for r in first} == {"missed"}

    world.fire(ks, "start_revision", "npo-lead")
    assert (ks.version, ks.published_version) == (2, 1)
    world.fire(ks, "approve_for_review", "npo-chair")
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"})
    assert ks.consultation_round == 2
    second = children(session, "consultation_response", ks, round=2)
    assert len(second) == N_REGIONS
    assert {r.state for r in second} == {"requested"}
    assert len(children(session, "consultation_response", ks)) == 2 * N_REGIONS
    assert_one_row_each(session, "create", second, actor="npo-chair@test.se")

    vgr2 = world.case_of("consultation_response", ks, "vgr")
    assert vgr2.round == 2
    world.fire(vgr2, "start_response", "vgr-coordinator")
    world.fire(vgr2, "submit", "vgr-coordinator", comment="OK", params={"position": "opposes"})
    world.fire(ks, "close_consultation", "system")
    assert Counter(r.state for r in children(session, "consultation_response", ks, round=2)) == {
        "missed": N_REGIONS - 1,
        "submitted": 1,
    }
    # Round 1 was not touched again: one expire row per first-round response.
    assert {cid: len(rs) for cid, rs in rows(session, "expire", [r.id for r in first]).items()} == {
        r.id: 1 for r in first
    }


def test_cancel_in_consultation_cancels_open_responses(world):
    session = world.session
    ks = world.ks_in("consultation")
    vgr = world.case_of("consultation_response", ks, "vgr")
    skane = world.case_of("consultation_response", ks, "skane")
    world.fire(vgr, "start_response", "vgr-coordinator")
    world.fire(skane, "start_response", "skane-coordinator")
    world.fire(skane, "submit", "skane-coordinator", comment="Ja", params={"position": "supports"})

    world.fire(ks, "cancel", "npo-chair", comment="Uppdraget återkallat av SKS")
    assert ks.state == "cancelled"
    responses = children(session, "consultation_response", ks)
    assert Counter(r.state for r in responses) == {"cancelled": N_REGIONS - 1, "submitted": 1}
    cancelled = [r for r in responses if r.state == "cancelled"]
    assert_one_row_each(session, "cancel", cancelled)
    assert rows(session, "cancel", [skane.id]) == {}
    assert count_cases(session, Case.knowledge_support_id == ks.id) == N_REGIONS


def test_cancel_after_publication_is_refused(world):
    ks = world.ks_in("published")
    world.fire(ks, "start_revision", "npo-chair")
    assert ks.state == "drafting"
    # "any state before published" means a knowledge support never published: one in force is
    # withdrawn instead, and its regions' work is not cancelled behind their backs.
    refused(world, ks, "cancel", "npo-chair", "validation_error", comment="Avbryt revideringen")
    assert {a.state for a in children(world.session, "regional_adaptation", ks)} == {"received"}


# --- publication -----------------------------------------------------------------------------


def test_first_publication_creates_one_adaptation_per_region(world):
    session = world.session
    now = utcnow()
    ks = world.ks_in("awaiting_approval")
    assert children(session, "regional_adaptation", ks) == []
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-2026-9"}, now=now)
    assert (ks.state, ks.published_version, ks.published_at) == ("published", 1, now)
    assert ks.next_review_due == add_months(local_date(now), 24)
    assert ks.due == ks.next_review_due
    adaptations = children(session, "regional_adaptation", ks)
    assert len(adaptations) == N_REGIONS
    assert {a.owner_id for a in adaptations} == region_ids(session)
    due = local_date(now) + dt.timedelta(days=world.settings.deadlines.adaptation_decision_days)
    for ra in adaptations:
        assert isinstance(ra, RegionalAdaptation)
        assert (ra.state, ra.adapted_version, ra.due, ra.region_id) == (
            "received",
            1,
            due,
            ra.owner_id,
        )
    assert_one_row_each(session, "create", adaptations, actor="npo-chair@test.se")


def test_republication_reassesses_every_adaptation_but_cancelled(world):
    session = world.session
    add_user(world, "halland-chair", ("chair", "halland"))
    ks = world.ks_in("published")
    vgr = world.adaptation_in("adopted", ks)
    halland = world.adaptation(ks, "halland")
    world.fire(halland, "start_assessment", "vastra-lead")
    world.fire(halland, "submit_for_decision", "vastra-lead", comment="Ingen nytta här")
    world.fire(halland, "reject", "halland-chair", comment="Redan infört på annat sätt")
    skane = world.adaptation(ks, "skane")
    world.fire(skane, "cancel", "admin", override=True, comment="Dubblett")
    before = {a.id: (a.state, a.lock_version) for a in children(session, "regional_adaptation", ks)}
    assert before[halland.id][0] == "not_adopted"

    now = utcnow()
    republish(world, ks, now=now)
    assert (ks.state, ks.version, ks.published_version) == ("published", 2, 2)
    due = local_date(now) + dt.timedelta(days=world.settings.deadlines.adaptation_decision_days)
    adaptations = children(session, "regional_adaptation", ks)
    assert len(adaptations) == N_REGIONS  # no new ones: every region already has its own
    moved = [a for a in adaptations if a.id != skane.id]
    assert {(a.state, a.adapted_version) for a in moved} == {("received", 2)}
    assert (skane.state, skane.adapted_version) == ("cancelled", 1)
    reassessed = assert_one_row_each(session, "reassess", moved)
    assert rows(session, "reassess", [skane.id]) == {}
    for ra in moved:
        assert reassessed[ra.id].from_state == before[ra.id][0]
        assert reassessed[ra.id].params == {"cause": f"knowledge_support.{ks.id}", "version": 2}
        assert ra.lock_version == before[ra.id][1] + 1
        assert ra.due == due  # a new decision deadline for the new version
    assert reassessed[vgr.id].from_state == "adopted"
    assert reassessed[halland.id].from_state == "not_adopted"


# --- hand-off --------------------------------------------------------------------------------


def test_hand_off_creates_one_implementation_per_unit(world):
    session = world.session
    now = utcnow()
    ra = world.adaptation_in("adopted")
    target = (local_date(now) + dt.timedelta(days=120)).isoformat()
    units = ["vgr-psyk-1", "vgr-psyk-2", "vgr-rpo-enhet"]
    fired = world.fire(
        ra, "hand_off", "vgr-coordinator", params={"units": units, "due": target}, now=now
    )
    assert ra.state == "implementing"
    assert fired.outcome == {"created": 3, "skipped": 0}
    assert fired.params == {"units": sorted(units), "due": target}
    lis = list(session.scalars(select(Case).where(Case.parent_id == ra.id).order_by(Case.id)))
    assert {li.owner_id for li in lis} == {world.units[u].id for u in units}
    due = add_business_days(
        local_date(now), world.settings.deadlines.implementation_acknowledge_business_days
    )
    for li in lis:
        assert isinstance(li, LocalImplementation)
        assert (li.type, li.state, li.region_id) == (
            "local_implementation",
            "assigned",
            ra.region_id,
        )
        assert (li.knowledge_support_id, li.target_date, li.due) == (
            ra.knowledge_support_id,
            dt.date.fromisoformat(target),
            due,
        )
    assert_one_row_each(session, "create", lis, actor="vgr-coordinator@test.se")


def test_hand_off_skips_units_with_an_open_implementation(world):
    session = world.session
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)  # vgr-psyk-1 and vgr-psyk-2
    first1, first2 = world.implementation(ra, "vgr-psyk-1"), world.implementation(ra, "vgr-psyk-2")
    world.fire(first2, "waive", "vgr-lead", comment="Enheten har redan rutinen")
    republish(world, ks)
    assert ra.state == "received"
    for step in ("assessing", "awaiting_decision", "adopted"):
        trigger, who, kwargs = world.ADAPTATION_PATH[step]
        world.fire(ra, trigger, who, **kwargs)

    units = ["vgr-psyk-1", "vgr-psyk-2", "vgr-rpo-enhet"]
    fired = world.fire(ra, "hand_off", "vgr-lead", params={"units": units})
    assert fired.outcome == {"created": 2, "skipped": 1}
    lis = list(session.scalars(select(Case).where(Case.parent_id == ra.id)))
    owners = Counter(world.session.get(Unit, li.owner_id).code for li in lis)
    assert owners == {"vgr-psyk-1": 1, "vgr-psyk-2": 2, "vgr-rpo-enhet": 1}
    assert (first1.state, first2.state) == ("assigned", "waived")
    new = [li for li in lis if li.id not in (first1.id, first2.id)]
    assert_one_row_each(session, "create", new, actor="vgr-lead@test.se")


def test_hand_off_counts_a_repeated_unit_once(world):
    ra = world.adaptation_in("adapting")
    fired = world.fire(ra, "hand_off", "vgr-lead", params={"units": ["vgr-psyk-1"] * 3})
    assert fired.outcome == {"created": 1, "skipped": 0}
    assert count_cases(world.session, Case.parent_id == ra.id) == 1


@pytest.mark.parametrize(
    "units",
    [
        ["vgr-psyk-1", "skane-psyk-1"],  # a local unit of another region
        ["vgr-rpo-psyk"],  # a regional group, not a local unit
        ["vgr"],  # the region itself
        ["no-such-unit"],
        [],
        "",
    ],
)
def test_hand_off_outside_the_region_is_refused(world, units):
    ra = world.adaptation_in("adopted")
    refused(world, ra, "hand_off", "vgr-coordinator", "validation_error", params={"units": units})
    assert count_cases(world.session, Case.parent_id == ra.id) == 0


def test_a_vardprogram_is_reviewed_after_twelve_months(world):
    now = utcnow()
    ks = world.ks_in("awaiting_approval", kind="vardprogram")
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-1"}, now=now)
    assert ks.next_review_due == add_months(local_date(now), 12)


def test_follow_up_waits_for_every_local_implementation(world):
    ra = world.adaptation_in("implementing")
    first, second = world.implementation(ra, "vgr-psyk-1"), world.implementation(ra, "vgr-psyk-2")
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        world.fire(first, trigger, "local-lead")
    world.fire(second, "acknowledge", "local2-lead")
    err = refused(world, ra, "start_follow_up", "vgr-lead", "validation_error")
    assert "1" in err.message
    world.fire(second, "waive", "vgr-lead", comment="Enheten läggs ned")
    world.fire(ra, "start_follow_up", "vgr-lead")
    assert ra.state == "following_up"


# --- withdrawal ------------------------------------------------------------------------------


def test_withdraw_cancels_every_open_regional_and_local_case(world):
    session = world.session
    add_user(world, "halland-chair", ("chair", "halland"))
    ks = world.ks_in("published")
    # vgr: handed off, both units waived, followed up and closed.
    vgr = world.adaptation_in("implementing", ks)
    for unit in ("vgr-psyk-1", "vgr-psyk-2"):
        world.fire(world.implementation(vgr, unit), "waive", "vgr-lead", comment="Ej aktuellt")
    world.fire(vgr, "start_follow_up", "vgr-lead")
    world.fire(vgr, "close", "vgr-coordinator")
    # skane: adopted and handed off; the local unit has acknowledged.
    skane = world.adaptation(ks, "skane")
    world.fire(skane, "start_assessment", "skane-coordinator")
    world.fire(skane, "submit_for_decision", "skane-lead", comment="Analys")
    world.fire(skane, "adopt", "skane-chair", params={"decision_ref": "RS-2026-7"})
    world.fire(skane, "hand_off", "skane-coordinator", params={"units": ["skane-psyk-1"]})
    skane_li = world.implementation(skane, "skane-psyk-1")
    world.fire(skane_li, "acknowledge", "skane-local-lead")
    # halland: decided not to adopt.
    halland = world.adaptation(ks, "halland")
    world.fire(halland, "start_assessment", "vastra-lead")
    world.fire(halland, "submit_for_decision", "vastra-lead", comment="Analys")
    world.fire(halland, "reject", "halland-chair", comment="Inte relevant")
    adaptations = children(session, "regional_adaptation", ks)
    implementations = children(session, "local_implementation", ks)
    before = {c.id: (c.state, c.lock_version) for c in adaptations + implementations}

    world.fire(ks, "withdraw", "npo-chair", comment="Ersatt av nationellt vårdprogram")
    assert ks.state == "withdrawn"
    assert Counter(a.state for a in adaptations) == {
        "cancelled": N_REGIONS - 2,
        "closed": 1,
        "not_adopted": 1,
    }
    assert (vgr.state, halland.state, skane.state) == ("closed", "not_adopted", "cancelled")
    assert Counter(li.state for li in implementations) == {"waived": 2, "cancelled": 1}
    assert skane_li.state == "cancelled"
    moved = [c for c in adaptations + implementations if c.state == "cancelled"]
    cancelled = assert_one_row_each(session, "cancel", moved)
    for case in moved:
        assert cancelled[case.id].from_state == before[case.id][0]
        assert cancelled[case.id].params == {"cause": f"knowledge_support.{ks.id}"}
        assert case.lock_version == before[case.id][1] + 1
        assert case.due is None
    assert cancelled[skane.id].from_state == "implementing"
    assert cancelled[skane_li.id].from_state == "acknowledged"
    untouched = [c for c in adaptations + implementations if c.state != "cancelled"]
    assert rows(session, "cancel", [c.id for c in untouched]) == {}
    assert all(c.lock_version == before[c.id][1] for c in untouched)
    # The responses of the (closed) consultation were already final: none moved.
    responses = children(session, "consultation_response", ks)
    assert rows(session, "cancel", [r.id for r in responses]) == {}


# --- the unique indexes behind "one per region" and "one open per unit" ----------------------


def insert_fails(session, case):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(case)
        session.flush()


def test_duplicate_adaptation_is_impossible(world):
    ks = world.ks_in("published")
    vgr = world.units["vgr"]
    duplicate = RegionalAdaptation(
        state="received",
        owner_id=vgr.id,
        region_id=vgr.id,
        knowledge_support_id=ks.id,
        adapted_version=1,
    )
    insert_fails(world.session, duplicate)
    assert len(children(world.session, "regional_adaptation", ks)) == N_REGIONS


def test_duplicate_response_in_a_round_is_impossible(world):
    ks = world.ks_in("consultation")
    vgr = world.units["vgr"]
    args = {"owner_id": vgr.id, "region_id": vgr.id, "knowledge_support_id": ks.id}
    insert_fails(world.session, ConsultationResponse(state="requested", round=1, **args))
    # The next round is a different response.
    world.session.add(ConsultationResponse(state="requested", round=2, **args))
    world.session.flush()
    assert len(children(world.session, "consultation_response", ks)) == N_REGIONS + 1


def test_second_open_implementation_for_a_unit_is_impossible(world):
    ra = world.adaptation_in("implementing")
    unit = world.units["vgr-psyk-1"]
    args = {
        "owner_id": unit.id,
        "region_id": ra.region_id,
        "knowledge_support_id": ra.knowledge_support_id,
        "parent_id": ra.id,
    }
    insert_fails(world.session, LocalImplementation(**args))
    # Once the first one is final, a new one may be handed off.
    world.fire(world.implementation(ra, "vgr-psyk-1"), "waive", "vgr-lead", comment="Ej aktuellt")
    world.session.add(LocalImplementation(**args))
    world.session.flush()
    assert count_cases(world.session, Case.parent_id == ra.id, Case.owner_id == unit.id) == 2
