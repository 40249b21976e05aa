"""The reminder ladder (lifecycle.md §4): the day each rung of a due date falls due."""

from __future__ import annotations

import datetime as dt

from kflow.calendar import add_business_days
from kflow.config import Settings


def rung_dates(due: dt.date, settings: Settings) -> list[tuple[str, dt.date]]:
    """The reminder ladder for one due date, in order (lifecycle.md §4)."""
    r = settings.reminders
    return [
        ("upcoming", add_business_days(due, -r.upcoming_business_days_before)),
        ("due", due),
        ("overdue", add_business_days(due, r.overdue_business_days_after)),
        ("escalated", add_business_days(due, r.escalated_business_days_after)),
    ]
