"""What a case waits for the actor to do now (Min inkorg's "Åtgärd"), and how urgent it is.

The same rule as the inbox query (kflow.queries.inbox), asked of one case in Python: its state's
``waits`` (CaseMachine.waits), the grants the actor holds on the case, and for a ``near_due``
wait its due date against the reminder ladder's first rung.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.queries.rows import ListedCase, case_rows
from kflow.states import MACHINES
from kflow.states.base import CaseType

# Local implementations waiting for it may be acknowledged several at once (Min inkorg).
BULK_TRIGGER = "acknowledge"


class Urgency(StrEnum):
    OVERDUE = "overdue"
    THIS_WEEK = "this_week"
    LATER = "later"


URGENCY_LABELS = {
    Urgency.OVERDUE: "Försenat",
    Urgency.THIS_WEEK: "Förfaller denna vecka",
    Urgency.LATER: "Senare",
}


def urgency(due: dt.date | None, today: dt.date) -> Urgency:
    """Overdue before today; this week up to and including Sunday; later after (or undated)."""
    if due is None:
        return Urgency.LATER
    if due < today:
        return Urgency.OVERDUE
    if due <= today + dt.timedelta(days=6 - today.weekday()):
        return Urgency.THIS_WEEK
    return Urgency.LATER


def awaited(authority: Authority, case: Any, near: dt.date) -> list[tuple[str, str]]:
    """(name, label) of what ``case`` waits for the actor to do now: its awaited triggers the
    actor may fire, or its awaited action; empty if it waits for someone else or nobody."""
    machine = MACHINES[case.type]
    wait = machine.waits.get(case.state)
    if wait is None or authority.actor.is_system:
        return []
    if wait.near_due and (case.due is None or case.due > near):
        return []
    found = []
    for name, grants in machine.waited_grants(case.state).items():
        if any(g.role in authority.scope_roles(case, g.scope) for g in grants):
            spec = machine.triggers.get(name)
            found.append((name, spec.label if spec is not None else name))
    return found


@dataclasses.dataclass
class InboxRow:
    """A case in Min inkorg: its list row, what it waits for the actor to do (labels), and
    whether it may be acknowledged together with others (bulk Kvittera)."""

    listed: ListedCase
    actions: list[str]
    bulk: bool

    @property
    def case(self) -> Any:
        return self.listed.case


def inbox_groups(
    session: Session, authority: Authority, cases: Sequence[Case], today: dt.date, near: dt.date
) -> list[tuple[Urgency, list[InboxRow]]]:
    """The inbox's cases as rows in urgency groups (overdue, this week, later), each in the
    order given; empty groups are left out."""
    grouped: dict[Urgency, list[InboxRow]] = {u: [] for u in Urgency}
    for listed in case_rows(session, authority, cases, today):
        found = awaited(authority, listed.case, near)
        bulk = listed.case.type == CaseType.LOCAL_IMPLEMENTATION and any(
            name == BULK_TRIGGER for name, _ in found
        )
        row = InboxRow(listed, [label for _, label in found], bulk)
        grouped[urgency(listed.case.due, today)].append(row)
    return [(u, rows) for u, rows in grouped.items() if rows]
