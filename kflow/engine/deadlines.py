"""When a case is due, by case type and state (lifecycle.md §4; figures in config/).

A due date is set when a case enters a state with a deadline and kept while it moves between
states that share that deadline (assessing and on_hold share the decision deadline, say).
"""

from __future__ import annotations

import datetime as dt

from kflow.calendar import add_business_days, add_months
from kflow.config import Settings

# States whose deadline carries over from the state before them instead of restarting.
_KEEPS_DUE = {
    ("regional_adaptation", "assessing"),
    ("regional_adaptation", "on_hold"),
    ("regional_adaptation", "awaiting_decision"),
    ("regional_adaptation", "adapting"),
    ("consultation_response", "drafting"),
    ("local_implementation", "implementing"),
    ("local_implementation", "deviation"),
}


def due_for(
    case_type: str,
    state: str,
    today: dt.date,
    settings: Settings,
    *,
    previous_due: dt.date | None = None,
    consultation_deadline: dt.date | None = None,
    target_date: dt.date | None = None,
    next_review_due: dt.date | None = None,
) -> dt.date | None:
    d = settings.deadlines
    if (case_type, state) in _KEEPS_DUE:
        return previous_due
    days = dt.timedelta
    match case_type, state:
        case "knowledge_support", "consultation":
            return consultation_deadline
        case "knowledge_support", "published":
            return next_review_due
        case "consultation_response", "requested":
            return consultation_deadline
        case "regional_adaptation", "received":
            return today + days(d.adaptation_decision_days)
        case "regional_adaptation", "adopted":
            return today + days(d.adaptation_handoff_days)
        case "local_implementation", "assigned":
            return add_business_days(today, d.implementation_acknowledge_business_days)
        case "local_implementation", "acknowledged":
            return target_date or today + days(d.implementation_done_days)
        case "local_implementation", "following_up":
            return today + days(d.follow_up_measurement_days)
    return None


def review_due(kind: str, published_on: dt.date, settings: Settings) -> dt.date:
    months = (
        settings.deadlines.review_months_vardprogram
        if kind == "vardprogram"
        else settings.deadlines.review_months
    )
    return add_months(published_on, months)


def rung_dates(due: dt.date, settings: Settings) -> list[tuple[str, dt.date]]:
    """The reminder ladder for one due date, in order (lifecycle.md §4)."""
    r = settings.reminders
    return [
        ("upcoming", add_business_days(due, -r.upcoming_business_days_before)),
        ("due", due),
        ("overdue", add_business_days(due, r.overdue_business_days_after)),
        ("escalated", add_business_days(due, r.escalated_business_days_after)),
    ]


def due_values(due: dt.date | None, settings: Settings) -> dict[str, dt.date | None]:
    """Column values for a new due date: the date and the day its first rung falls due."""
    if due is None:
        return {"due": None, "next_reminder_on": None}
    first = add_business_days(due, -settings.reminders.upcoming_business_days_before)
    return {"due": due, "next_reminder_on": first}
