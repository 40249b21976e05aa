"""History (one complete row per fired trigger) and optimistic locking (lifecycle.md §2, §3)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from kflow.calendar import local_date
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.db import begin_write, utcnow
from kflow.errors import Conflict
from kflow.org.models import Unit, User
from tests.support.checks import count_cases, count_events, events, refused
from tests.support.world import World


def last_row(session, case):
    session.flush()
    session.expire_all()  # read the row back from the database
    return events(session, case)[-1]


def test_creation_row(world):
    now = utcnow()
    ks = world.create_ks(who="npo-lead")
    [row] = events(world.session, ks)
    assert (row.trigger, row.from_state, row.to_state) == ("create", None, "need_identified")
    assert (row.actor, row.actor_id, row.role) == (
        "npo-lead@test.se",
        world.users["npo-lead"].id,
        "process_lead",
    )
    assert (row.comment, row.params, row.override) == (None, None, False)
    assert row.at.tzinfo is not None and now <= row.at <= utcnow()


def test_every_fire_writes_one_complete_row(world):
    session = world.session
    now = utcnow()
    deadline = (local_date(now) + dt.timedelta(days=45)).isoformat()
    ks = world.create_ks(kind="vardforlopp")
    refused(world, ks, "commission", "npo-chair", "validation_error")  # SKS decision needed
    steps = [
        ("commission", "npo-chair", "chair", " Beslut i SKS ", {"decision_ref": " SKS-2026-1 "},
         {"decision_ref": "SKS-2026-1"}),
        ("start_drafting", "npo-lead", "process_lead", None, None, None),
        ("approve_for_review", "npo-chair", "chair", "", {}, None),
        ("request_changes", "npo-chair", "chair", "Förtydliga målgruppen", None, None),
        ("approve_for_review", "npo-chair", "chair", None, None, None),
        ("open_consultation", "npo-chair", "chair", None,
         {"channel": "remiss", "deadline": deadline}, {"channel": "remiss", "deadline": deadline}),
        ("close_consultation", "system", None, None, None, None),
        ("submit_for_approval", "npo-lead", "process_lead", None, None, None),
        ("request_changes", "npo-chair", "chair", "Saknar hälsoekonomi", None, None),
        ("submit_for_approval", "npo-lead", "process_lead", "Klar", None, None),
        ("publish", "npo-chair", "chair", None, {"decision_ref": "SKS-2026-9"},
         {"decision_ref": "SKS-2026-9"}),
        ("start_revision", "npo-chair", "chair", None, None, None),
    ]  # fmt: skip
    expected_states = [
        "commissioned",
        "drafting",
        "review",
        "drafting",
        "review",
        "consultation",
        "revising",
        "awaiting_approval",
        "revising",
        "awaiting_approval",
        "published",
        "drafting",
    ]
    for (trigger, who, role, comment, params, recorded), to_state in zip(
        steps, expected_states, strict=True
    ):
        from_state, version, n = (
            ks.state,
            ks.lock_version,
            count_events(session, CaseEvent.case_id == ks.id),
        )
        world.fire(ks, trigger, who, comment=comment, params=params, now=now)
        assert count_events(session, CaseEvent.case_id == ks.id) == n + 1, trigger
        assert (ks.state, ks.lock_version) == (to_state, version + 1)
        row = last_row(session, ks)
        actor = "system" if who == "system" else f"{who}@test.se"
        actor_id = None if who == "system" else world.users[who].id
        assert (row.trigger, row.from_state, row.to_state) == (trigger, from_state, to_state)
        assert (row.actor, row.actor_id, row.role, row.override) == (actor, actor_id, role, False)
        assert row.comment == ((comment or "").strip() or None)
        assert row.params == recorded
        assert row.at == now
    trail = events(session, ks)
    assert [r.trigger for r in trail] == ["create"] + [s[0] for s in steps]
    for before, after in itertools.pairwise(trail):
        assert after.from_state == before.to_state


def test_regional_and_local_history(world):
    session = world.session
    ra = world.adaptation_in("received")
    world.fire(ra, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    row = last_row(session, ra)
    assert (row.from_state, row.to_state, row.params) == (
        "received",
        "received",
        {"unit": "vgr-rpo-psyk"},
    )
    assert ra.lock_version == 2  # a move to the same state is still a change
    for step in ("assessing", "awaiting_decision", "adopted"):
        trigger, who, kwargs = world.ADAPTATION_PATH[step]
        world.fire(ra, trigger, who, **kwargs)
    assert ra.decision_ref == "HSN-2026-1"
    world.fire(ra, "hand_off", "rpo-lead", params={"units": "vgr-psyk-2, vgr-psyk-1"})
    row = last_row(session, ra)
    assert (row.trigger, row.role, row.params) == (
        "hand_off",
        "process_lead",
        {"units": ["vgr-psyk-1", "vgr-psyk-2"]},
    )
    assert [r.trigger for r in events(session, ra)] == [
        "create",
        "assign",
        "start_assessment",
        "submit_for_decision",
        "adopt",
        "hand_off",
    ]
    li = world.implementation(ra, "vgr-psyk-1")
    world.fire(li, "acknowledge", "local-member")
    world.fire(li, "start_implementation", "local-lead")
    world.fire(li, "report_deviation", "local-member", comment="Personalbrist")
    world.fire(li, "resolve_deviation", "vgr-lead", comment="Bemanning löst")
    trail = [(r.trigger, r.from_state, r.to_state, r.actor, r.role) for r in events(session, li)]
    assert trail == [
        ("create", None, "assigned", "rpo-lead@test.se", "process_lead"),
        ("acknowledge", "assigned", "acknowledged", "local-member@test.se", "member"),
        (
            "start_implementation",
            "acknowledged",
            "implementing",
            "local-lead@test.se",
            "local_lead",
        ),
        ("report_deviation", "implementing", "deviation", "local-member@test.se", "member"),
        ("resolve_deviation", "deviation", "implementing", "vgr-lead@test.se", "process_lead"),
    ]


def test_submitted_response_records_position(world):
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    world.fire(response, "start_response", "vgr-lead")
    refused(
        world, response, "submit", "vgr-chair", "validation_error", params={"position": "supports"}
    )
    refused(
        world,
        response,
        "submit",
        "vgr-chair",
        "validation_error",
        comment="x",
        params={"position": "maybe"},
    )
    world.fire(
        response,
        "submit",
        "vgr-chair",
        comment="Tillstyrks",
        params={"position": "supports_with_reservations"},
    )
    row = last_row(world.session, response)
    assert (row.trigger, row.comment, row.params) == (
        "submit",
        "Tillstyrks",
        {"position": "supports_with_reservations"},
    )
    assert response.position == "supports_with_reservations"


# --- failures write nothing --------------------------------------------------------------------

FAILURES = [
    ("validation_error", "request_changes", "npo-chair", {}),
    ("validation_error", "request_changes", "npo-chair", {"comment": "   "}),
    ("validation_error", "request_changes", "npo-chair", {"comment": 42}),
    ("validation_error", "open_consultation", "npo-chair", {}),
    ("validation_error", "open_consultation", "npo-chair", {"params": {"channel": "fax"}}),
    ("validation_error", "open_consultation", "npo-chair", {"params": ["remiss"]}),
    ("validation_error", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss", "deadline": "2020-01-01"}}),
    ("validation_error", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss", "deadline": "2031-02-30"}}),
    ("validation_error", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss", "colour": "red"}}),
    ("validation_error", "fly_away", "npo-chair", {}),
    ("validation_error", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss"}, "lock_version": "2"}),
    ("forbidden", "open_consultation", "npo-lead", {"params": {"channel": "remiss"}}),
    ("forbidden", "open_consultation", "other-npo-chair", {"params": {"channel": "remiss"}}),
    ("forbidden", "open_consultation", "system", {"params": {"channel": "remiss"}}),
    ("invalid_transition", "publish", "npo-chair", {"params": {"decision_ref": "X"}}),
    ("invalid_transition", "withdraw", "npo-chair", {"comment": "x"}),
    ("conflict", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss"}, "lock_version": 1}),
    ("conflict", "open_consultation", "npo-chair",
     {"params": {"channel": "remiss"}, "lock_version": 99}),
]  # fmt: skip


@pytest.mark.parametrize(("code", "trigger", "who", "kwargs"), FAILURES)
def test_failed_trigger_writes_nothing(world, code, trigger, who, kwargs):
    ks = world.ks_in("review")
    assert ks.lock_version == 4
    refused(world, ks, trigger, who, code, **kwargs)
    assert count_cases(world.session, Case.knowledge_support_id == ks.id) == 0
    # The same trigger, done right, still works afterwards.
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, lock_version=4)
    assert (ks.state, ks.lock_version) == ("consultation", 5)


def test_lock_version(world):
    ks = world.ks_in("drafting")
    seen = ks.lock_version
    world.fire(ks, "approve_for_review", "npo-chair", lock_version=seen)
    assert ks.lock_version == seen + 1
    err = refused(
        world, ks, "request_changes", "npo-chair", "conflict", comment="x", lock_version=seen
    )
    assert isinstance(err, Conflict)
    refused(
        world,
        ks,
        "request_changes",
        "npo-chair",
        "validation_error",
        comment="x",
        lock_version=True,
    )
    world.fire(ks, "request_changes", "npo-chair", comment="Mer evidens", lock_version=seen + 1)
    assert (ks.state, ks.lock_version) == ("drafting", seen + 2)


# --- real transactions: a lost race ------------------------------------------------------------


def world_in(session, settings):
    """A World over users and units already committed (built by World.build)."""
    users = {u.email.removesuffix("@test.se"): u for u in session.scalars(select(User))}
    units = {u.code: u for u in session.scalars(select(Unit))}
    return World(session, settings, users, units)


@pytest.fixture
def race(committed_runtime):
    rt = committed_runtime
    with rt.transaction() as s:
        world = World.build(s, rt.settings)
        ks_id = world.ks_in("review").id
    return rt, ks_id


def assert_winner_only(rt, ks_id, lock_version):
    with rt.transaction(write=False) as s:
        ks = s.get(Case, ks_id)
        assert (ks.state, ks.lock_version) == ("consultation", lock_version + 1)
        triggers = [
            r.trigger for r in s.scalars(select(CaseEvent).where(CaseEvent.case_id == ks_id))
        ]
        assert triggers.count("open_consultation") == 1
        assert "request_changes" not in triggers
        assert count_cases(s, Case.knowledge_support_id == ks_id) == 21


def test_lost_race_with_a_stale_copy(race):
    """B loaded the case, A moved it and committed, B fires on its copy: B gets 409 conflict."""
    rt, ks_id = race
    b = rt.sessions()
    try:
        stale = b.get(Case, ks_id)
        version = stale.lock_version
        b.commit()  # B's read is over; its copy stays in memory
        with rt.transaction() as a:
            world_in(a, rt.settings).fire(
                a.get(Case, ks_id), "open_consultation", "npo-chair", params={"channel": "remiss"}
            )
        begin_write(b)
        with pytest.raises(Conflict) as err:
            world_in(b, rt.settings).fire(stale, "request_changes", "npo-chair", comment="Nej")
        assert err.value.code == "conflict"
        b.rollback()
    finally:
        b.close()
    assert_winner_only(rt, ks_id, version)


@pytest.mark.only_on("postgresql")
def test_lost_race_in_overlapping_transactions(race):
    """Both transactions are open at once; the second to write loses (PostgreSQL: SQLite's
    writers are serialised by BEGIN IMMEDIATE, so the overlap cannot happen there; see
    test_lost_race_with_a_stale_copy)."""
    rt, ks_id = race
    a, b = rt.sessions(), rt.sessions()
    try:
        case_a, case_b = a.get(Case, ks_id), b.get(Case, ks_id)
        version = case_b.lock_version
        assert case_a.state == case_b.state == "review"
        world_in(a, rt.settings).fire(
            case_a, "open_consultation", "npo-chair", params={"channel": "remiss"}
        )
        a.commit()
        with pytest.raises(Conflict):
            world_in(b, rt.settings).fire(case_b, "request_changes", "npo-chair", comment="Nej")
        b.rollback()
    finally:
        a.close()
        b.close()
    assert_winner_only(rt, ks_id, version)


def test_a_failed_request_rolls_back_all_of_it(race):
    """A request that fires twice and fails on the second leaves nothing of the first."""
    rt, ks_id = race
    with pytest.raises(Conflict), rt.transaction() as s:
        world = world_in(s, rt.settings)
        ks = s.get(Case, ks_id)
        version = ks.lock_version
        world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"})
        assert count_cases(s, Case.knowledge_support_id == ks_id) == 21
        world.fire(ks, "close_consultation", "npo-chair", lock_version=version)
    with rt.transaction(write=False) as s:
        ks = s.get(Case, ks_id)
        assert (ks.state, ks.lock_version) == ("review", version)
        assert count_cases(s, Case.knowledge_support_id == ks_id) == 0
        assert [r.trigger for r in s.scalars(select(CaseEvent).where(CaseEvent.case_id == ks_id))][
            -1
        ] == "approve_for_review"
