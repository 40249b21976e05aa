"""Measurements (lifecycle.md §6.2): who may report, values checked against the unit of
measure, corrections that append, the current value enforced by the database, the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from kflow.errors import Conflict, Forbidden, InvalidTransition, ValidationError
from kflow.followup import measurements
from kflow.followup.indicators import define_indicator
from kflow.followup.models import Measurement
from kflow.queries import followup as queries
from kflow.web.ui import casepage

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)


@pytest.fixture
def setup(world):
    ks = world.ks_in("published")
    percent = define_indicator(
        world.session,
        world.authority("npo-lead"),
        ks,
        name="Andel med vårdplan",
        unit_of_measure="procent",
        code="VP-1",
        direction="higher",
    )
    ratio = define_indicator(
        world.session,
        world.authority("npo-chair"),
        ks,
        name="Andel med uppföljning",
        unit_of_measure="%",
        code="UP-1",
        aggregation="ratio",
        direction="lower_is_better",
        source="kvalitetsregister",
    )
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation_in("implemented", ra)
    return ks, percent, ratio, li


def count(world) -> int:
    return world.session.scalar(select(func.count()).select_from(Measurement))


def report(world, who, indicator, unit="vgr-psyk-1", now=NOW, **values):
    values.setdefault("period", "2026-Q3")
    return measurements.report(
        world.session,
        world.authority(who),
        indicator,
        world.units[unit],
        settings=world.settings,
        now=now,
        **values,
    )


def test_indicator_fields_and_old_direction_alias(world, setup):
    _, percent, ratio, _ = setup
    assert (percent.direction, percent.code, percent.source) == (
        "higher_is_better",
        "VP-1",
        "manuell",
    )
    assert (ratio.direction, ratio.aggregation, ratio.source) == (
        "lower_is_better",
        "ratio",
        "kvalitetsregister",
    )
    ks = world.ks_in("published")
    with pytest.raises(ValidationError, match="koden 'VP-1'"):
        define_indicator(
            world.session,
            world.authority("npo-chair"),
            ks,
            name="Ny",
            unit_of_measure="st",
            code="VP-1",
        )
    for field, bad in (("source", "gissning"), ("aggregation", "median"), ("direction", "up")):
        with pytest.raises(ValidationError, match=field):
            define_indicator(
                world.session,
                world.authority("npo-chair"),
                ks,
                name="Z",
                unit_of_measure="st",
                **{field: bad},
            )


def test_programme_unit_owns_indicators(world):
    rpo = world.units["vgr-rpo-psyk"]
    own = define_indicator(
        world.session, world.authority("rpo-chair"), rpo, name="Väntetid", unit_of_measure="dagar"
    )
    assert (own.owner_unit_id, own.knowledge_support_id) == (rpo.id, None)
    with pytest.raises(Forbidden):
        define_indicator(
            world.session, world.authority("local-lead"), rpo, name="X", unit_of_measure="st"
        )
    with pytest.raises(ValidationError, match="programområde"):
        define_indicator(
            world.session,
            world.authority("vgr-lead"),
            world.units["vgr-psyk-1"],
            name="X",
            unit_of_measure="st",
        )
    # No unit holds a target yet (indicator lists), so a local lead may not report on it...
    with pytest.raises(Forbidden):
        report(world, "local-lead", own, value=3)
    # ...but the region's coordinator may, for any unit of the region.
    made = report(world, "vgr-coordinator", own, value=3)
    assert (made.unit_id, made.case_id) == (world.units["vgr-psyk-1"].id, None)


def test_who_may_report(world, setup):
    _, percent, _, li = setup
    made = report(world, "local-member", percent, value=70)
    assert (made.case_id, made.unit_id) == (li.id, li.owner_id)
    report(world, "vgr-lead", percent, value=71, period="2026-Q2")  # process lead (region)
    report(world, "vgr-coordinator", percent, unit="vgr-psyk-2", value=50)  # any unit of VGR
    before = count(world)
    for who, unit, error in (
        ("skane-coordinator", "vgr-psyk-1", Forbidden),  # another region
        ("local2-lead", "vgr-psyk-1", Forbidden),  # another unit
        ("vgr-viewer", "vgr-psyk-1", Forbidden),
        ("nobody", "vgr-psyk-1", Forbidden),
        ("npo-chair", "vgr-psyk-1", Forbidden),  # the owner defines, units report
    ):
        with pytest.raises(error):
            report(world, who, percent, unit=unit, value=1, period="2026-Q1")
    other = world.implementation(world.adaptation(li.knowledge_support, "vgr"), "vgr-psyk-2")
    world.fire(other, "acknowledge", "local2-lead")
    with pytest.raises(InvalidTransition, match="infört eller under uppföljning"):
        report(world, "local2-lead", percent, unit="vgr-psyk-2", value=1, period="2026-Q1")
    assert count(world) == before


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"value": 100.5}, "mellan 0 och 100"),
        ({"value": -1}, "mellan 0 och 100"),
        ({"value": "mycket"}, "value måste vara ett tal"),
        ({"value": "NaN"}, "ändligt"),
        ({}, "value krävs"),
        ({"value": 5, "numerator": 1, "denominator": 2}, "bara för indikatorer som är kvoter"),
        ({"value": 5, "period": "2027-01"}, "har inte börjat"),
        ({"value": 5, "period": "2026-Q5"}, "period måste vara"),
        ({"value": 5, "comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(world, setup, values, message):
    _, percent, _, _ = setup
    with pytest.raises(ValidationError, match=message):
        report(world, "local-lead", percent, **values)
    assert count(world) == 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"numerator": 5, "denominator": 4}, "får inte vara större än denominator"),
        ({"numerator": 1, "denominator": 0}, "denominator måste vara större än 0"),
        ({"numerator": -1, "denominator": 4}, "numerator får inte vara negativ"),
        ({"numerator": 1}, "numerator och denominator krävs"),
        ({"numerator": 1, "denominator": 4, "value": 80}, "stämmer inte"),
    ],
)
def test_bad_ratios_are_refused(world, setup, values, message):
    _, _, ratio, _ = setup
    with pytest.raises(ValidationError, match=message):
        report(world, "local-lead", ratio, **values)
    assert count(world) == 0


def test_ratio_value_is_a_percentage_of_numerator_over_denominator(world, setup):
    _, _, ratio, _ = setup
    made = report(world, "local-lead", ratio, numerator=30, denominator="40", value="75,0")
    assert (made.value, made.numerator, made.denominator) == (75.0, 30.0, 40.0)


def test_corrections_append_and_both_stay_readable(world, setup):
    _, percent, _, li = setup
    first = report(world, "local-lead", percent, value=70, comment="Första")
    again = report(world, "local-member", percent, value=72, now=LATER)  # same period: corrects
    assert again.supersedes_id == first.id
    world.session.refresh(first)
    assert first.value == 70 and first.superseded_at == LATER
    with pytest.raises(Conflict, match="redan rättat"):
        measurements.correct(
            world.session, world.authority("local-lead"), first, settings=world.settings, value=1
        )
    third = measurements.correct(
        world.session,
        world.authority("vgr-coordinator"),
        again,
        settings=world.settings,
        value="73",
        comment="Rättat efter registeruttag",
    )
    assert third.supersedes_id == again.id and third.case_id == li.id
    viewer = world.authority("vgr-viewer")
    current = queries.measurements(world.session, viewer)
    assert [row.measurement.value for row in current.items] == [73.0]
    every = queries.measurements(world.session, viewer, history="true")
    assert sorted(row.measurement.value for row in every.items) == [70.0, 72.0, 73.0]
    assert {row.reported_by for row in every.items} == {
        "local-lead@test.se",
        "local-member@test.se",
        "vgr-coordinator@test.se",
    }
    # The implementation's timeline interleaves them with its history, by time.
    entries, _ = casepage.timeline(world.session, li)
    actions = [entry.action for entry in entries]
    assert actions.count("Mätvärde rapporterat") == 1
    assert actions.count("Mätvärde rättat") == 2
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)


def test_the_database_allows_one_current_value(world, setup):
    _, percent, _, li = setup
    first = report(world, "local-lead", percent, value=70)
    twin = Measurement(
        indicator_id=percent.id, unit_id=li.owner_id, period="2026-Q3", value=1, reported_at=NOW
    )
    savepoint = world.session.begin_nested()
    world.session.add(twin)
    with pytest.raises(sa.exc.IntegrityError):
        world.session.flush()
    savepoint.rollback()
    assert world.session.get(Measurement, first.id).superseded_at is None


def test_reads_show_only_what_the_reader_may_see(world, setup):
    _, percent, _, _ = setup
    report(world, "local-lead", percent, value=70)
    for who, expected in (
        ("vgr-viewer", 1),
        ("local-member", 1),
        ("npo-viewer", 1),
        ("admin", 1),
        ("skane-coordinator", 0),
        ("local2-lead", 0),
        ("nobody", 0),
    ):
        page = queries.measurements(world.session, world.authority(who))
        assert page.total == expected, who


def test_a_first_value_written_at_the_same_time_is_a_conflict_not_an_error(world, setup):
    """Two first reports for the same (indicator, unit, period) at once: each found no current
    value; the database's partial unique index lets one in, the other is a 409 Conflict."""
    _, percent, _, _ = setup
    unit = world.units["vgr-psyk-1"]
    ready = measurements.prepare(
        world.session, world.authority("vgr-coordinator"), percent, unit, period="2026-Q3",
        value=70, now=NOW,
    )  # fmt: skip
    assert ready.previous is None
    report(world, "vgr-coordinator", percent, value=71)  # the other request wins
    with pytest.raises(Conflict, match="samtidigt"):
        measurements.write(
            world.session, world.authority("vgr-coordinator"), ready, settings=world.settings,
            now=NOW,
        )  # fmt: skip
