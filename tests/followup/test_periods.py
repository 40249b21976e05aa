"""Reporting periods (lifecycle.md §6.2): pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.errors import ValidationError
from kflow.followup import periods
from kflow.followup.periods import Period

D = dt.date


@pytest.mark.parametrize(
    ("code", "kind", "months", "start", "end"),
    [
        ("2026", "year", 12, D(2026, 1, 1), D(2026, 12, 31)),
        ("2026-H1", "half", 6, D(2026, 1, 1), D(2026, 6, 30)),
        ("2026-H2", "half", 6, D(2026, 7, 1), D(2026, 12, 31)),
        ("2026-T1", "tertial", 4, D(2026, 1, 1), D(2026, 4, 30)),
        ("2026-T2", "tertial", 4, D(2026, 5, 1), D(2026, 8, 31)),
        ("2026-T3", "tertial", 4, D(2026, 9, 1), D(2026, 12, 31)),
        ("2026-Q1", "quarter", 3, D(2026, 1, 1), D(2026, 3, 31)),
        ("2026-Q4", "quarter", 3, D(2026, 10, 1), D(2026, 12, 31)),
        ("2024-02", "month", 1, D(2024, 2, 1), D(2024, 2, 29)),
        ("2026-12", "month", 1, D(2026, 12, 1), D(2026, 12, 31)),
    ],
)
def test_parse_gives_kind_length_and_dates(code, kind, months, start, end):
    period = periods.parse(code)
    assert (period.kind, period.months, period.start, period.end) == (kind, months, start, end)
    assert period.code == str(period) == code


def test_parse_strips_whitespace():
    assert periods.parse(" 2026-Q2 ").code == "2026-Q2"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "26",
        "2026-",
        "2026-H3",
        "2026-H0",
        "2026-T4",
        "2026-Q5",
        "2026-13",
        "2026-00",
        "2026-1",
        "2026-q1",
        "Q1 2026",
        "2026-W01",
        "0999",
        "20260",
        None,
        2026,
        "2026-Q1x",
    ],
)
def test_parse_refuses_what_is_not_a_period(bad):
    with pytest.raises(ValidationError, match="period"):
        periods.parse(bad)


@pytest.mark.parametrize(
    ("code", "previous"),
    [
        ("2026", "2025"),
        ("2026-H1", "2025-H2"),
        ("2026-H2", "2026-H1"),
        ("2026-T1", "2025-T3"),
        ("2026-T3", "2026-T2"),
        ("2026-Q1", "2025-Q4"),
        ("2026-Q3", "2026-Q2"),
        ("2026-01", "2025-12"),
        ("2026-10", "2026-09"),
    ],
)
def test_previous_period_of_the_same_length(code, previous):
    assert periods.parse(code).previous().code == previous


@pytest.mark.parametrize(
    ("day", "kind", "expected"),
    [
        (D(2026, 5, 1), "tertial", "2026-T1"),  # T2 starts today: T1 is the last that ended
        (D(2026, 4, 30), "tertial", "2025-T3"),  # T1 ends today, not before it
        (D(2026, 1, 1), "year", "2025"),
        (D(2026, 12, 31), "year", "2025"),
        (D(2026, 7, 15), "half", "2026-H1"),
        (D(2026, 2, 10), "quarter", "2025-Q4"),
        (D(2026, 3, 1), "month", "2026-02"),
    ],
)
def test_latest_ended_before_a_date(day, kind, expected):
    ended = periods.latest_ended(day, kind)
    assert ended.code == expected and ended.end < day


def test_has_started_and_future_periods_refused_in_swedish():
    today = D(2026, 12, 5)
    assert periods.parse("2026-12").has_started(today)
    assert periods.parse("2026-T3").has_started(today)
    assert not periods.parse("2027").has_started(today)
    periods.require_started(periods.parse("2026-Q4"), today)
    with pytest.raises(ValidationError, match="har inte börjat ännu"):
        periods.require_started(periods.parse("2027-01"), today)


def test_containing_and_ordering():
    assert periods.containing(D(2026, 8, 31), "tertial") == Period(2026, "tertial", 2)
    assert periods.parse("2025-Q4") < periods.parse("2026-Q1")
