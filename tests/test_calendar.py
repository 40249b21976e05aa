"""The Swedish business-day calendar and the consultation calendar (lifecycle.md §4), on real dates.

Expected dates are written out by hand from the almanac, not derived from the `holidays` package.
"""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.calendar import (
    STOCKHOLM,
    add_business_days,
    default_consultation_deadline,
    holiday_name,
    is_working_day,
    local_date,
    next_working_day,
    previous_working_day,
    remiss_windows,
    synpunkt_rounds,
)
from kflow.config import ConsultationSettings
from kflow.errors import KflowError
from tests.support.checks import refused

D = dt.date.fromisoformat
CONSULTATION = ConsultationSettings()

# Weekdays that are not working days, from the almanac (public holidays + the three "aftnar").
NON_WORKING_WEEKDAYS = {
    2025: [
        "2025-01-01",  # Nyårsdagen (Wed)
        "2025-01-06",  # Trettondedag jul (Mon)
        "2025-04-18",  # Långfredagen
        "2025-04-21",  # Annandag påsk
        "2025-05-01",  # Första maj (Thu)
        "2025-05-29",  # Kristi himmelsfärdsdag
        "2025-06-06",  # Nationaldagen (Fri)
        "2025-06-20",  # Midsommarafton (Fri)
        "2025-12-24",  # Julafton
        "2025-12-25",  # Juldagen
        "2025-12-26",  # Annandag jul
        "2025-12-31",  # Nyårsafton
    ],
    2026: [
        "2026-01-01",
        "2026-01-06",
        "2026-04-03",  # Långfredagen
        "2026-04-06",  # Annandag påsk
        "2026-05-01",
        "2026-05-14",  # Kristi himmelsfärdsdag
        "2026-06-19",  # Midsommarafton (Nationaldagen 6 June is a Saturday)
        "2026-12-24",
        "2026-12-25",
        "2026-12-31",
    ],
}


@pytest.mark.parametrize("year", sorted(NON_WORKING_WEEKDAYS))
def test_the_non_working_weekdays_of_a_year_are_exactly_the_almanacs(year):
    day, found = dt.date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and not is_working_day(day):
            found.append(day.isoformat())
        day += dt.timedelta(days=1)
    assert found == NON_WORKING_WEEKDAYS[year]


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2026-04-03", "Långfredagen"),
        ("2026-04-06", "Annandag påsk"),
        ("2026-05-14", "Kristi himmelsfärdsdag"),
        ("2026-06-06", "Nationaldagen"),
        ("2026-06-19", "Midsommarafton"),
        ("2025-06-20", "Midsommarafton"),
        ("2025-12-24", "Julafton"),
        ("2025-12-31", "Nyårsafton"),
    ],
)
def test_holidays_have_their_swedish_names(day, name):
    assert holiday_name(D(day)) == name
    assert not is_working_day(D(day))


def test_ordinary_days_and_sundays():
    # An ordinary Sunday is not a holiday (include_sundays=False) but is not a working day.
    assert holiday_name(D("2026-03-08")) is None
    assert not is_working_day(D("2026-03-08"))
    assert not is_working_day(D("2026-03-07"))
    assert is_working_day(D("2026-03-09"))
    # Half-days (skärtorsdagen, valborgsmässoafton, trettondagsafton) are working days.
    for day in ("2026-04-02", "2026-04-30", "2026-01-05"):
        assert is_working_day(D(day)), day


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Christmas and New Year.
        ("2025-12-23", 1, "2025-12-29"),
        ("2025-12-23", 2, "2025-12-30"),
        ("2025-12-23", -1, "2025-12-22"),
        ("2025-12-30", 1, "2026-01-02"),
        ("2026-01-02", 1, "2026-01-05"),
        ("2026-01-05", 1, "2026-01-07"),
        # Easter 2026: Långfredag 3 Apr, Annandag påsk 6 Apr.
        ("2026-04-02", 1, "2026-04-07"),
        ("2026-04-07", -1, "2026-04-02"),
        ("2026-03-16", 15, "2026-04-08"),
        # Ascension (Thu 14 May 2026) and National Day (Fri 6 June 2025).
        ("2026-05-13", 1, "2026-05-15"),
        ("2025-06-05", 1, "2025-06-09"),
        # Midsummer: midsommarafton is Fri 19 June 2026 and Fri 20 June 2025.
        ("2026-06-18", 1, "2026-06-22"),
        ("2025-06-19", 1, "2025-06-23"),
        ("2026-06-22", -1, "2026-06-18"),
        # Plain weeks; zero is the day itself.
        ("2026-03-02", 10, "2026-03-16"),
        ("2026-03-16", -5, "2026-03-09"),
        ("2026-03-07", 0, "2026-03-07"),
        ("2026-03-07", 1, "2026-03-09"),
    ],
)
def test_add_business_days(start, count, expected):
    assert add_business_days(D(start), count) == D(expected)


def test_next_and_previous_working_day():
    assert next_working_day(D("2026-04-03")) == D("2026-04-07")
    assert previous_working_day(D("2026-04-06")) == D("2026-04-02")
    assert next_working_day(D("2025-12-24")) == D("2025-12-29")
    assert previous_working_day(D("2026-01-01")) == D("2025-12-30")
    assert next_working_day(D("2026-03-09")) == D("2026-03-09")
    assert previous_working_day(D("2026-03-09")) == D("2026-03-09")


UTC = dt.UTC


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Spring forward: 2026-03-29 01:00 UTC, 02:00 CET becomes 03:00 CEST.
        (dt.datetime(2026, 3, 28, 22, 59, tzinfo=UTC), "2026-03-28"),  # 23:59 CET
        (dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "2026-03-29"),  # 00:00 CET
        (dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "2026-03-29"),  # 01:59 CET
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29"),  # 03:00 CEST
        (dt.datetime(2026, 3, 29, 21, 59, tzinfo=UTC), "2026-03-29"),  # 23:59 CEST
        (dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "2026-03-30"),  # 00:00 CEST
        # Fall back: 2026-10-25 01:00 UTC, 03:00 CEST becomes 02:00 CET.
        (dt.datetime(2026, 10, 24, 21, 59, tzinfo=UTC), "2026-10-24"),  # 23:59 CEST
        (dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC), "2026-10-25"),  # 00:00 CEST
        (dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25"),  # 02:30 CEST
        (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25"),  # 02:30 CET
        (dt.datetime(2026, 10, 25, 22, 59, tzinfo=UTC), "2026-10-25"),  # 23:59 CET
        (dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC), "2026-10-26"),  # 00:00 CET
        # A Stockholm-aware instant keeps its own date.
        (dt.datetime(2026, 6, 19, 0, 5, tzinfo=STOCKHOLM), "2026-06-19"),
    ],
)
def test_local_date_is_the_stockholm_date_across_dst(instant, expected):
    assert local_date(instant) == D(expected)


def test_remiss_windows_are_shifted_to_working_days():
    # 2026: 15 Feb and 15 Nov are Sundays (start moves forward); 14 Jun and 14 Feb 2027 are
    # Sundays and 14 Nov a Saturday (end moves back).
    assert remiss_windows(2026, CONSULTATION) == [
        (D("2026-02-16"), D("2026-04-14")),
        (D("2026-04-15"), D("2026-06-12")),
        (D("2026-09-15"), D("2026-11-13")),
        (D("2026-11-16"), D("2027-02-12")),
    ]
    assert remiss_windows(2025, CONSULTATION) == [
        (D("2025-02-17"), D("2025-04-14")),
        (D("2025-04-15"), D("2025-06-13")),
        (D("2025-09-15"), D("2025-11-14")),
        (D("2025-11-17"), D("2026-02-13")),
    ]


def test_synpunkt_rounds_first_working_day_answered_by_the_29th():
    assert synpunkt_rounds(2026, CONSULTATION) == [
        (D("2026-02-02"), D("2026-02-27")),  # answer day 1 March 2026 is a Sunday
        (D("2026-03-02"), D("2026-03-27")),  # 29 March is a Sunday
        (D("2026-04-01"), D("2026-04-29")),
        (D("2026-05-04"), D("2026-05-29")),  # 1 May is a holiday, 2-3 May a weekend
        (D("2026-09-01"), D("2026-09-29")),
        (D("2026-10-01"), D("2026-10-29")),
        (D("2026-11-02"), D("2026-11-27")),  # 29 Nov is a Sunday
        (D("2026-12-01"), D("2026-12-29")),
    ]
    rounds_2027 = dict(synpunkt_rounds(2027, CONSULTATION))
    assert rounds_2027[D("2027-02-01")] == D("2027-03-01")  # February: 1 March, a Monday
    # 29 March 2027 is Annandag påsk, 26 March Långfredagen: answered Thursday 25 March.
    assert rounds_2027[D("2027-03-01")] == D("2027-03-25")
    # No rounds in January, June, July or August.
    months = {sent.month for sent, _ in synpunkt_rounds(2027, CONSULTATION)}
    assert months.isdisjoint({1, 6, 7, 8})


@pytest.mark.parametrize(
    ("channel", "opened", "deadline"),
    [
        ("remiss", "2026-02-10", "2026-04-14"),
        ("remiss", "2026-02-15", "2026-04-14"),  # the window opens on the 16th (15th a Sunday)
        ("remiss", "2026-02-16", "2026-04-14"),
        ("remiss", "2026-02-17", "2026-06-12"),  # the Feb window has opened: the next one
        ("remiss", "2026-07-01", "2026-11-13"),
        ("remiss", "2026-09-16", "2027-02-12"),  # the window opening 15 Nov closes 14 Feb
        ("remiss", "2026-11-17", "2027-04-14"),  # into the next year
        ("remiss", "2026-12-20", "2027-04-14"),
        ("synpunktsinhamtning", "2026-03-02", "2026-03-27"),
        ("synpunktsinhamtning", "2026-03-03", "2026-04-29"),
        ("synpunktsinhamtning", "2026-05-05", "2026-09-29"),  # summer has no rounds
        ("synpunktsinhamtning", "2026-12-02", "2027-03-01"),  # January has none either
    ],
)
def test_default_deadline_is_the_close_of_the_first_window_opening_on_or_after(
    channel, opened, deadline
):
    assert default_consultation_deadline(channel, D(opened), CONSULTATION) == D(deadline)


def test_open_consultation_takes_the_default_or_a_future_deadline(world, session):
    now = dt.datetime(2026, 3, 3, 9, 0, tzinfo=STOCKHOLM)
    ks = world.ks_in("review")
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=now)
    assert ks.consultation_deadline == D("2026-06-12")
    assert ks.due == D("2026-06-12")

    other = world.ks_in("review")
    for past_or_today in ("2026-03-03", "2026-03-02"):
        error = refused(
            world,
            other,
            "open_consultation",
            "npo-chair",
            "validation_error",
            params={"channel": "remiss", "deadline": past_or_today},
            now=now,
        )
        assert "framtiden" in error.message
    with pytest.raises(KflowError) as err:
        world.fire(
            other,
            "open_consultation",
            "npo-chair",
            params={"channel": "remiss", "deadline": "2026-13-01"},
            now=now,
        )
    assert err.value.code == "validation_error"
    world.fire(
        other,
        "open_consultation",
        "npo-chair",
        params={"channel": "synpunktsinhamtning", "deadline": "2026-03-04"},
        now=now,
    )
    assert (other.consultation_channel, other.consultation_deadline) == (
        "synpunktsinhamtning",
        D("2026-03-04"),
    )
