"""Due dates and the reminder ladder (lifecycle.md §4; the figures are in config/).

Each case type declares the due date each of its states sets (``CaseMachine.due``); this module
turns a due date into the columns that drive reminders, and gives each rung its day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kflow.calendar import add_business_days
from kflow.config import Settings
from kflow.states.base import CaseMachine, DueFacts


def due_values(due: dt.date | None, settings: Settings) -> dict[str, dt.date | None]:
    """Column values for a new due date: the date and the day its first rung falls due."""
    if due is None:
        return {"due": None, "next_reminder_on": None}
    first = add_business_days(due, -settings.reminders.upcoming_business_days_before)
    return {"due": due, "next_reminder_on": first}


def due_changes(
    machine: CaseMachine, case: Any, dest: str, facts: DueFacts
) -> dict[str, dt.date | None]:
    """``due`` and ``next_reminder_on`` for ``case`` entering ``dest`` (kept if unchanged, so a
    rung already sent for this due date is not sent again)."""
    due = machine.due_on_entering(dest, facts)
    if due == case.due and dest not in machine.final:
        return {"due": case.due, "next_reminder_on": case.next_reminder_on}
    return due_values(due, facts.settings)
