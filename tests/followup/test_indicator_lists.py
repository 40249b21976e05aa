"""Indikatorlistor (lifecycle.md §6.3): creating one, its targets, its machine, the system
closing it, and the API collection."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from kflow.cases.events import CaseEvent
from kflow.cases.models import IndicatorList
from kflow.errors import KflowError
from kflow.followup.lists import IndicatorTarget, create_indicator_list, targets_of
from kflow.followup.models import Indicator
from kflow.jobs.timers import fire_timers
from kflow.org.models import Unit
from tests.support.checks import nothing_written, refused
from tests.support.world import World

LISTS = "indicator-lists"


@pytest.fixture
def indicator(world):
    ks = world.ks_in("published")
    found = Indicator(
        knowledge_support_id=ks.id,
        name="Andel patienter med hjärtsvikt som har ordinerats RAS-hämmare",
        unit_of_measure="procent",
    )
    world.session.add(found)
    world.session.flush()
    return found


def new_list(world, who="vgr-coordinator", owner="vgr", **kwargs):
    fields = {"year": 2027, "scope": "sjukhus", "title": "Indikatorlista VGR 2027"} | kwargs
    return create_indicator_list(world.session, world.authority(who), owner=owner, **fields)


def set_target(world, case, indicator, unit="vgr-psyk-1", value=90, who="vgr-coordinator", **more):
    params = {"indicator": indicator.id, "unit": unit, "target_value": value} | more
    return world.fire(case, "set_target", who, params=params)


def test_a_list_is_created_in_drafting_with_its_history(world):
    case = new_list(world)
    assert (case.type, case.state, case.year, case.scope) == (
        "indicator_list",
        "drafting",
        2027,
        "sjukhus",
    )
    assert case.region_id == world.units["vgr"].id and case.knowledge_support_id is None
    rows = world.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(r.trigger, r.to_state) for r in rows] == [("create", "drafting")]


@pytest.mark.parametrize(
    ("who", "owner", "fields", "code"),
    [
        ("vgr-chair", "vgr", {}, "forbidden"),  # a chair decides; coordinators create
        ("skane-coordinator", "vgr", {}, "forbidden"),
        ("vgr-coordinator", "vgr-psyk-1", {}, "validation_error"),  # not a region
        ("vgr-coordinator", "vgr", {"year": 1999}, "validation_error"),
        ("vgr-coordinator", "vgr", {"scope": "allt"}, "validation_error"),
        ("vgr-coordinator", "vgr", {"title": " "}, "validation_error"),
    ],
)
def test_creating_a_list_refuses(world, who, owner, fields, code):
    before = world.session.scalar(select(func.count()).select_from(IndicatorList))
    with pytest.raises(KflowError) as err:
        new_list(world, who=who, owner=owner, **fields)
    assert err.value.code == code
    assert world.session.scalar(select(func.count()).select_from(IndicatorList)) == before


def test_targets_are_set_replaced_and_removed_each_a_history_row(world, indicator):
    case = new_list(world)
    fired = set_target(world, case, indicator, tolerance_pct=5, responsible="vgr-rpo-psyk")
    assert fired.outcome == {"entry": "added"}
    (target,) = targets_of(world.session, case.id)
    assert (target.target_value, target.tolerance_pct) == (90, 5)
    assert target.unit_id == world.units["vgr-psyk-1"].id
    assert target.responsible_id == world.units["vgr-rpo-psyk"].id
    assert set_target(world, case, indicator, value="92,5").outcome == {"entry": "replaced"}
    assert [t.target_value for t in targets_of(world.session, case.id)] == [92.5]
    set_target(world, case, indicator, unit="vgr-psyk-2", who="vgr-lead")
    fired = world.fire(
        case,
        "remove_target",
        "vgr-coordinator",
        params={"indicator": indicator.id, "unit": "vgr-psyk-1"},
    )
    assert fired.outcome == {"entry": "removed"}
    assert [t.unit_id for t in targets_of(world.session, case.id)] == [world.units["vgr-psyk-2"].id]
    triggers = world.session.scalars(
        select(CaseEvent.trigger).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    assert triggers == ["create", "set_target", "set_target", "set_target", "remove_target"]


@pytest.mark.parametrize(
    ("params", "who", "code"),
    [
        ({"unit": "skane-psyk-1"}, "vgr-coordinator", "validation_error"),  # outside the region
        ({"unit": "vgr-rpo-psyk"}, "vgr-coordinator", "validation_error"),  # not a local unit
        ({"target_value": "mycket"}, "vgr-coordinator", "validation_error"),
        ({"tolerance_pct": 101}, "vgr-coordinator", "validation_error"),
        ({"indicator": 999_999}, "vgr-coordinator", "validation_error"),
        ({"responsible": "skane"}, "vgr-coordinator", "validation_error"),
        ({}, "vgr-chair", "forbidden"),
        ({}, "skane-coordinator", "forbidden"),  # the API answers 404: it cannot see it
    ],
)
def test_a_bad_target_writes_nothing(world, indicator, params, who, code):
    case = new_list(world)
    full = {"indicator": indicator.id, "unit": "vgr-psyk-1", "target_value": 90} | params
    refused(world, case, "set_target", who, code, params=full)
    assert targets_of(world.session, case.id) == []


def test_removing_a_target_that_is_not_there_is_refused(world, indicator):
    case = new_list(world)
    params = {"indicator": indicator.id, "unit": "vgr-psyk-1"}
    refused(world, case, "remove_target", "vgr-coordinator", "validation_error", params=params)


def test_the_whole_life_of_a_list(world, indicator):
    case = new_list(world)
    err = refused(world, case, "submit", "vgr-coordinator", "validation_error")
    assert "måltal" in err.message
    set_target(world, case, indicator)
    world.fire(case, "submit", "vgr-coordinator")
    assert case.state == "submitted" and case.due is not None
    late = {"indicator": indicator.id, "unit": "vgr-psyk-2", "target_value": 1}
    refused(world, case, "set_target", "vgr-coordinator", "invalid_transition", params=late)
    refused(world, case, "request_changes", "vgr-chair", "validation_error")  # needs a comment
    world.fire(case, "request_changes", "vgr-chair", comment="Lägg till primärvården")
    assert case.state == "drafting"
    world.fire(case, "submit", "vgr-coordinator")
    refused(world, case, "approve", "vgr-chair", "validation_error")  # needs decision_ref
    world.fire(case, "approve", "vgr-chair", params={"decision_ref": "RS 2026-12"})
    assert (case.state, case.decision_ref) == ("approved", "RS 2026-12")
    assert case.closes_on == dt.date(2028, 1, 31)
    world.fire(case, "revise", "vgr-chair", comment="Nytt måltal för Skaraborg")
    assert case.state == "drafting"
    world.fire(case, "cancel", "vgr-chair", comment="Ersätts av en ny lista")
    assert case.state == "cancelled" and not case.is_open


def test_the_timer_fires_close_on_the_first_working_day_of_february(committed_runtime):
    runtime = committed_runtime
    with runtime.transaction() as session:
        world = World.build(session, runtime.settings)
        ks = world.ks_in("published")
        indicator = Indicator(knowledge_support_id=ks.id, name="Väntetid", unit_of_measure="dagar")
        session.add(indicator)
        session.flush()
        case = new_list(world, year=2026)
        set_target(world, case, indicator, value=30)
        world.fire(case, "submit", "vgr-coordinator")
        world.fire(case, "approve", "vgr-chair", params={"decision_ref": "RS 2026-01"})
        case_id = case.id
    # 1 February 2027 is a Monday: nothing on Sunday 31 January, closed on the Monday.
    sunday = dt.datetime(2027, 1, 31, 10, tzinfo=dt.UTC)
    assert fire_timers(runtime, sunday).get("indicator_list.close") is None
    monday = dt.datetime(2027, 2, 1, 10, tzinfo=dt.UTC)
    assert fire_timers(runtime, monday) == {"indicator_list.close": 1}
    with runtime.transaction(write=False) as session:
        closed = session.get(IndicatorList, case_id)
        assert closed is not None and closed.state == "closed"
        last = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())
        ).first()
        assert last is not None and (last.trigger, last.role) == ("close", None)


def test_a_healthcare_region_may_own_a_list(world, indicator):
    case = new_list(world, who="vastra-lead", owner="vastra", title="Västra sjukvårdsregionen")
    assert case.region_id is None and case.owner_id == world.units["vastra"].id
    with nothing_written(world.session, case), pytest.raises(KflowError):
        set_target(world, case, indicator, unit="skane-psyk-1", who="vastra-lead")
    set_target(world, case, indicator, unit="vgr-psyk-1", who="vastra-lead")
    assert len(targets_of(world.session, case.id)) == 1


# --- the API ----------------------------------------------------------------------------------


def test_the_api_creates_lists_and_fires_their_triggers(api, world, indicator):
    created = api.post(
        f"/api/v1/{LISTS}",
        "vgr-coordinator",
        {"owner": "vgr", "year": 2027, "scope": "primarvard", "title": "Primärvård 2027"},
        expect=201,
    )
    assert (created["state"], created["owner"], created["region"]) == ("drafting", "vgr", "vgr")
    assert created["targets"] == [] and created["allowed_triggers"] == [
        "set_target",
        "remove_target",
        "submit",
    ]
    case_id = created["id"]
    params = {
        "indicator": indicator.id,
        "unit": "vgr-psyk-2",
        "target_value": 80,
        "tolerance_pct": 10,
    }
    fired = api.fire(LISTS, case_id, "set_target", "vgr-coordinator", params=params)
    assert fired["targets"] == [
        {"indicator": indicator.id, "unit": "vgr-psyk-2", "target_value": 80.0,
         "tolerance_pct": 10.0, "responsible": None}
    ]  # fmt: skip
    api.fire(LISTS, case_id, "submit", "vgr-coordinator")
    api.fire_error(LISTS, case_id, "approve", "vgr-coordinator", 403, "forbidden",
                   params={"decision_ref": "x"})  # fmt: skip
    api.fire(LISTS, case_id, "approve", "vgr-chair", params={"decision_ref": "HSN 2027-3"})
    listed = api.get(f"/api/v1/{LISTS}", "vgr-viewer", state="approved")
    assert [c["id"] for c in listed["items"]] == [case_id]
    assert api.get(f"/api/v1/{LISTS}", "skane-coordinator")["items"] == []
    api.error("GET", f"/api/v1/{LISTS}/{case_id}", "skane-coordinator", 404, "not_found")
    history = api.get(f"/api/v1/{LISTS}/{case_id}/history", "vgr-viewer")
    assert [r["trigger"] for r in history["items"]] == ["create", "set_target", "submit", "approve"]


def test_the_api_refuses_a_bad_list(api, world):
    before = world.session.scalar(select(func.count()).select_from(IndicatorList))
    body = {"owner": "vgr", "year": 2027, "scope": "sjukhus", "title": "x"}
    path = f"/api/v1/{LISTS}"
    api.error("POST", path, "vgr-coordinator", 422, "validation_error", json=body | {"year": "nu"})
    api.error("POST", path, "skane-coordinator", 403, "forbidden", json=body)
    assert world.session.scalar(select(func.count()).select_from(IndicatorList)) == before
    assert world.session.scalar(select(func.count()).select_from(IndicatorTarget)) == 0
    assert world.session.scalar(select(func.count()).select_from(Unit)) > 0


def test_one_list_per_owner_year_and_scope_until_it_is_cancelled(world, indicator):
    first = new_list(world)
    with pytest.raises(KflowError) as err:
        new_list(world, title="En till")
    assert err.value.code == "conflict" and f"#{first.id}" in err.value.message
    new_list(world, scope="primarvard", title="Primärvården")  # another scope
    new_list(world, year=2028, title="Nästa år")  # another year
    world.fire(first, "cancel", "vgr-chair", comment="Fel omfattning.")
    again = new_list(world, title="Ny lista")  # a cancelled list makes way
    # The database holds the rule too, whatever path a row takes.
    with pytest.raises(sa_exc.IntegrityError), world.session.begin_nested():
        world.session.add(
            IndicatorList(owner_id=again.owner_id, region_id=again.region_id, year=2027,
                          scope="sjukhus", title="Förbi tjänsten")
        )  # fmt: skip
        world.session.flush()
