"""Swedish business days and the national consultation calendar (lifecycle.md §4).

Non-working days: Saturdays, Sundays, public holidays and the three de facto holidays
midsommarafton, julafton and nyårsafton. Dates are local dates in Europe/Stockholm.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays

from kflow.config import ConsultationSettings

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@functools.lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    # include_sundays must be explicit: older releases of `holidays` listed every Sunday.
    return holidays.country_holidays(
        "SE",
        years=year,
        include_sundays=False,
        categories=(holidays.PUBLIC, holidays.DE_FACTO),
        language="sv",
    )


def holiday_name(day: dt.date) -> str | None:
    name = _holidays(day.year).get(day)
    return str(name) if name else None


@functools.lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def previous_working_day(day: dt.date) -> dt.date:
    """``day`` itself if it is a working day, else the last working day before it."""
    while not is_working_day(day):
        day -= dt.timedelta(days=1)
    return day


def add_business_days(day: dt.date, count: int) -> dt.date:
    """The ``count``-th working day after ``day`` (before it when negative)."""
    step = dt.timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def local_date(moment: dt.datetime) -> dt.date:
    """The Stockholm calendar date of an aware instant."""
    return moment.astimezone(STOCKHOLM).date()


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def remiss_windows(year: int, settings: ConsultationSettings) -> list[tuple[dt.date, dt.date]]:
    """The remiss windows opening in ``year``: (first day, last answer day), holidays shifted."""
    windows = []
    for window in settings.remiss_windows:
        start_text, end_text = window.split("/")
        opens = dt.date(year, *(int(part) for part in start_text.split("-")))
        closes = dt.date(year, *(int(part) for part in end_text.split("-")))
        if closes < opens:
            closes = closes.replace(year=year + 1)
        windows.append((next_working_day(opens), previous_working_day(closes)))
    return sorted(windows)


def synpunkt_rounds(year: int, settings: ConsultationSettings) -> list[tuple[dt.date, dt.date]]:
    """The synpunktsinhämtning rounds of ``year``: (sent, answer day), holidays shifted."""
    rounds = []
    for month in sorted(settings.synpunkt_months):
        sent = next_working_day(dt.date(year, month, 1))
        if month == 2:
            answer = dt.date(year, 3, 1)
        else:
            answer = dt.date(year, month, min(settings.synpunkt_answer_day, 30))
        rounds.append((sent, previous_working_day(answer)))
    return rounds


def default_consultation_deadline(
    channel: str, opened_on: dt.date, settings: ConsultationSettings
) -> dt.date:
    """The close of the first window (or round) that opens on or after ``opened_on``."""
    schedule = remiss_windows if channel == "remiss" else synpunkt_rounds
    for year in (opened_on.year, opened_on.year + 1, opened_on.year + 2):
        for starts, closes in schedule(year, settings):
            if starts >= opened_on:
                return closes
    raise ValueError(f"no {channel} window configured")
