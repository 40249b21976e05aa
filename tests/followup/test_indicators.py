"""Indicators are defined nationally, measured locally and rolled up per region and nation."""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.errors import Forbidden, InvalidTransition, ValidationError
from kflow.followup.indicators import define_indicator, roll_up
from kflow.followup.measurements import report_on_implementation as report_measurement

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def _indicator(world, ks):
    return define_indicator(
        world.session,
        world.authority("npo-lead"),
        ks,
        name="Andel patienter med PHQ-9 vid första besök",
        unit_of_measure="procent",
        target_value="80,5",
    )


def test_chair_or_process_lead_defines_indicators(world):
    ks = world.ks_in("published")
    indicator = _indicator(world, ks)
    assert indicator.target_value == 80.5 and indicator.direction == "higher_is_better"
    assert (indicator.source, indicator.aggregation) == ("manuell", "mean")
    with pytest.raises(ValidationError, match="redan"):
        _indicator(world, ks)
    with pytest.raises(Forbidden):
        define_indicator(
            world.session, world.authority("vgr-lead"), ks, name="X", unit_of_measure="st"
        )
    with pytest.raises(ValidationError, match="direction"):
        define_indicator(
            world.session,
            world.authority("npo-chair"),
            ks,
            name="Y",
            unit_of_measure="st",
            direction="up",
        )


def test_local_unit_reports_while_implemented_and_rolls_up(world, settings):
    ks = world.ks_in("published")
    indicator = _indicator(world, ks)
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation_in("implementing", ra)
    kwargs = {"settings": settings, "indicator_id": indicator.id, "period": "2026-Q3"}
    with pytest.raises(InvalidTransition):
        report_measurement(world.session, world.authority("local-lead"), li, value=70, **kwargs)
    world.fire(li, "report_implemented", "local-lead")
    report_measurement(world.session, world.authority("local-lead"), li, value=70, **kwargs)
    # A report of the same period corrects the value: the roll-up counts the current one.
    report_measurement(world.session, world.authority("local-member"), li, value="72", **kwargs)
    other = world.implementation(ra, "vgr-psyk-2")
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        world.fire(other, trigger, "local2-lead")
    report_measurement(world.session, world.authority("local2-lead"), other, value=90, **kwargs)
    with pytest.raises(Forbidden):
        report_measurement(world.session, world.authority("local2-lead"), li, value=1, **kwargs)
    with pytest.raises(ValidationError, match="period"):
        report_measurement(
            world.session,
            world.authority("local-lead"),
            li,
            settings=settings,
            indicator_id=indicator.id,
            period="Q3 2026",
            value=1,
        )
    with pytest.raises(ValidationError, match="tal"):
        report_measurement(
            world.session,
            world.authority("local-lead"),
            li,
            settings=settings,
            indicator_id=indicator.id,
            period="2026",
            value="NaN",
        )
    (row,) = roll_up(world.session, ks)
    assert row.period == "2026-Q3"
    assert row.regions == {"vgr": (81.0, 2)}
    assert row.national == (81.0, 2)


def test_report_in_follow_up_moves_next_measurement_due(world, settings):
    ks = world.ks_in("published")
    indicator = _indicator(world, ks)
    li = world.implementation_in("following_up", world.adaptation_in("implementing", ks))
    report_measurement(
        world.session,
        world.authority("local-lead"),
        li,
        settings=settings,
        indicator_id=indicator.id,
        period="2026",
        value=55,
        now=NOW,
    )
    assert li.due == dt.date(2027, 11, 23)
    assert li.next_reminder_on is not None and li.next_reminder_on < li.due
