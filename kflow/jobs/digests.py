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


def build_digests(runtime: Runtime, now: dt.datetime, force: bool = False) -> int:
    """One digest mail per recipient and day, holding what fell due since their last one."""
    if not (force or digest_due(now, runtime)):
        return 0
    with runtime.transaction() as session:
        created = queue_digests(session, runtime.settings, local_date(now))
    return created
