"""Goal attainment and roll-up (lifecycle.md §6.4), computed in SQL: values, statuses, trends,
corrections, approved lists only, and each level up to the nation. Every expected figure below
is worked out by hand from the measurements the test writes."""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.followup.attainment import level_results, target_results
from kflow.followup.lists import create_indicator_list
from kflow.followup.models import Indicator, Measurement
from kflow.followup.rights import holds_target


@pytest.fixture
def ks(world):
    return world.ks_in("published")


def indicator(world, ks, name, unit_of_measure="procent", **fields):
    found = Indicator(
        knowledge_support_id=ks.id, name=name, unit_of_measure=unit_of_measure, **fields
    )
    world.session.add(found)
    world.session.flush()
    return found


def measure(world, ind, unit, period, value=None, num=None, den=None, superseded=False):
    row = Measurement(
        indicator_id=ind.id,
        unit_id=world.units[unit].id,
        period=period,
        value=value if value is not None else num / den * 100,
        numerator=num,
        denominator=den,
        superseded_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC) if superseded else None,
    )
    world.session.add(row)
    world.session.flush()
    return row


def approved_list(world, targets, approve=True):
    case = create_indicator_list(
        world.session,
        world.authority("vgr-coordinator"),
        owner="vgr",
        year=2026,
        scope="alla",
        title="VGR 2026",
    )
    for ind, unit, value, tolerance in targets:
        params = {"indicator": ind.id, "unit": unit, "target_value": value}
        if tolerance is not None:
            params["tolerance_pct"] = tolerance
        world.fire(case, "set_target", "vgr-coordinator", params=params)
    if approve:
        world.fire(case, "submit", "vgr-coordinator")
        world.fire(case, "approve", "vgr-chair", params={"decision_ref": "RS 2026-1"})
    return case


def by_unit(world, results):
    codes = {u.id: code for code, u in world.units.items()}
    return {codes.get(r.unit_id, "nation"): r for r in results}


def test_targets_of_an_approved_list_get_value_status_and_trend(world, ks):
    ras = indicator(world, ks, "Andel med RAS-hämmare", aggregation="ratio")
    wait = indicator(world, ks, "Väntetid", "dagar", direction="lower_is_better")
    case = approved_list(
        world,
        [
            (ras, "vgr-psyk-1", 90, None),  # 2026-T2: 45/50 = 90 %: met
            (ras, "vgr-psyk-2", 90, 10),  # 2026-T2: 40/48 = 83.3 %: within 10 % of 90: near
            (wait, "vgr-psyk-1", 30, None),  # 2026-T2: mean(40, 50) = 45 > 30 + 5 %: not met
            (wait, "vgr-psyk-2", 30, None),  # nothing reported: no data
        ],
    )
    measure(world, ras, "vgr-psyk-1", "2026-T1", num=40, den=50)  # 80 %
    measure(world, ras, "vgr-psyk-1", "2026-T2", num=45, den=50)
    measure(world, ras, "vgr-psyk-2", "2026-T1", num=40, den=48)
    measure(world, ras, "vgr-psyk-2", "2026-T2", num=40, den=48)
    measure(world, ras, "vgr-psyk-2", "2026-T2", num=1, den=48, superseded=True)  # corrected
    measure(world, wait, "vgr-psyk-1", "2026-T2", value=40)
    measure(world, wait, "vgr-psyk-1", "2026-T1", value=20)
    measure(world, wait, "skane-psyk-1", "2026-T2", value=1)  # another region: not counted
    results = target_results(world.session, "2026-T2", list_ids=[case.id])
    found = {(r.indicator_id, r.unit_id): r for r in results}
    unit = {code: world.units[code].id for code in ("vgr-psyk-1", "vgr-psyk-2")}
    first = found[(ras.id, unit["vgr-psyk-1"])]
    assert (round(first.value, 6), first.previous, first.status, first.trend) == (
        90.0,
        80.0,
        "met",
        "up",
    )
    second = found[(ras.id, unit["vgr-psyk-2"])]
    assert round(second.value, 3) == 83.333 and second.status == "near" and second.trend == "same"
    assert second.reports == 1  # the superseded row does not count
    third = found[(wait.id, unit["vgr-psyk-1"])]
    assert (third.value, third.status, third.trend, third.target) == (40.0, "not_met", "up", 30)
    fourth = found[(wait.id, unit["vgr-psyk-2"])]
    assert (fourth.value, fourth.status, fourth.trend, fourth.reports) == (None, "no_data", None, 0)
    assert first.status_label == "Uppfyllt" and fourth.status_label == "Värde saknas"


def test_a_target_counts_the_units_below_it(world, ks):
    count = indicator(world, ks, "Antal utbildade", "antal", aggregation="sum")
    approved_list(world, [(count, "vgr-psyk-1", 10, None)])
    measure(world, count, "vgr-psyk-1", "2026", value=6)
    # vgr-rpo-enhet sits under the RPO, not under vgr-psyk-1: it does not count.
    measure(world, count, "vgr-rpo-enhet", "2026", value=100)
    (result,) = target_results(world.session, "2026", region_id=world.units["vgr"].id)
    assert (result.value, result.status) == (6.0, "not_met")


def test_only_approved_lists_count(world, ks):
    ras = indicator(world, ks, "Andel", aggregation="ratio")
    draft = approved_list(world, [(ras, "vgr-psyk-1", 90, None)], approve=False)
    measure(world, ras, "vgr-psyk-1", "2026-T1", num=1, den=2)
    assert target_results(world.session, "2026-T1") == []
    assert not holds_target(world.session, ras.id, world.units["vgr-psyk-1"].id)
    world.fire(draft, "submit", "vgr-coordinator")
    world.fire(draft, "approve", "vgr-chair", params={"decision_ref": "RS 1"})
    assert [r.status for r in target_results(world.session, "2026-T1")] == ["not_met"]
    assert holds_target(world.session, ras.id, world.units["vgr-psyk-1"].id)
    assert not holds_target(world.session, ras.id, world.units["vgr-psyk-2"].id)
    world.fire(draft, "revise", "vgr-chair", comment="Ändras")
    assert target_results(world.session, "2026-T1") == []


def test_roll_up_to_region_healthcare_region_and_nation(world, ks):
    ras = indicator(world, ks, "Andel RAS", aggregation="ratio", target_value=84)
    mean = indicator(world, ks, "Medelvärde", "poäng", target_value=10)
    measure(world, ras, "vgr-psyk-1", "2026-T3", num=45, den=50)
    measure(world, ras, "vgr-psyk-2", "2026-T3", num=35, den=50)
    measure(world, ras, "skane-psyk-1", "2026-T3", num=10, den=20)
    measure(world, ras, "skane-psyk-1", "2026-T2", num=18, den=20)
    for unit, value in (("vgr-psyk-1", 8), ("vgr-psyk-2", 12), ("skane-psyk-1", 16)):
        measure(world, mean, unit, "2026-T3", value=value)
    regions = by_unit(world, level_results(world.session, ras.id, "2026-T3", "region"))
    assert round(regions["vgr"].value, 6) == 80.0  # (45 + 35) / (50 + 50), not a mean of rates
    assert regions["vgr"].status == "near" and regions["vgr"].target == 84  # 80 ≥ 84 − 5 %
    assert (regions["skane"].value, regions["skane"].status) == (50.0, "not_met")
    assert (regions["skane"].previous, regions["skane"].trend) == (90.0, "down")
    nation = level_results(world.session, ras.id, "2026-T3", "nation")
    assert [(round(r.value, 6), r.unit_id, r.reports) for r in nation] == [(75.0, None, 3)]
    units = by_unit(world, level_results(world.session, mean.id, "2026-T3", "local_unit"))
    assert {code: r.value for code, r in units.items()} == {
        "vgr-psyk-1": 8.0,
        "vgr-psyk-2": 12.0,
        "skane-psyk-1": 16.0,
    }
    vastra = by_unit(world, level_results(world.session, mean.id, "2026-T3", "healthcare_region"))
    assert vastra["vastra"].value == 10.0 and vastra["vastra"].status == "met"
    (national,) = level_results(world.session, mean.id, "2026-T3", "nation")
    assert national.value == 12.0
