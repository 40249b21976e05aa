"""The daily digests: one mail per person and day, from digest_hour on working days
(Stockholm time), built in one transaction (kflow.mailing.reminders.queue_digests)."""

from __future__ import annotations

import datetime as dt

from kflow.calendar import STOCKHOLM, is_working_day, local_date
from kflow.mailing.reminders import queue_digests
from kflow.runtime import Runtime


def digest_due(now: dt.datetime, runtime: Runtime) -> bool:
    """Digests go out from digest_hour on working days (Stockholm time)."""
    local = now.astimezone(STOCKHOLM)
    return is_working_day(local.date()) and local.hour >= runtime.settings.reminders.digest_hour


def build_digests(
    runtime: Runtime, now: dt.datetime, force: bool = False, *, catch_up: bool = False
) -> int:
    """One digest mail per recipient and day, holding what fell due since their last one.

    With ``catch_up`` (the scheduler's start-up), a digest that is not due yet today (before
    digest_hour, or on a weekend or holiday) is sent as the last working day's instead: a
    scheduler that was down then catches up at once, and nobody gets that day's twice (one
    digest per person and day; what waits then goes in the next one)."""
    day = local_date(now)
    if not (force or digest_due(now, runtime)):
        if not catch_up:
            return 0
        day = last_working_day(day)
    with runtime.transaction() as session:
        created = queue_digests(session, runtime.settings, day)
    return created


def last_working_day(day: dt.date) -> dt.date:
    """The last working day before ``day``."""
    day -= dt.timedelta(days=1)
    while not is_working_day(day):
        day -= dt.timedelta(days=1)
    return day
