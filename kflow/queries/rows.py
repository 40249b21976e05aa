"""Rows for case lists (the inbox, the overdue list): each case with its knowledge support's
title, its unit and due status, loaded in a fixed number of queries however many cases there
are."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.queries import units as unit_queries
from kflow.states import MACHINES
from kflow.states.base import CaseType, Trigger

# The local team's next step, offered as a one-click button right in the inbox.
PRIMARY_TRIGGERS = ("acknowledge", "start_implementation", "report_implemented")


@dataclasses.dataclass
class ListedCase:
    case: Case
    type_label: str
    state_label: str
    title: str
    unit: str
    region: str | None
    overdue_days: int
    due_today: bool
    primary: Trigger | None

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0


def ks_titles(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The titles of the cases ``ids``: knowledge supports, and the cases that are not under
    one (an indikatorlista) under their own title."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    cases = cast(Table, Case.__table__)
    rows = session.execute(
        select(cases.c.id, cases.c.title).where(cases.c.id.in_(wanted), cases.c.title.is_not(None))
    )
    return {ks_id: title for ks_id, title in rows}


def overdue_days(case: Any, today: dt.date) -> int:
    """Days past due of an open case (a Case, or a read model's row with type, state, due)."""
    if case.due is None or case.state in MACHINES[case.type].final or case.due >= today:
        return 0
    return int((today - case.due).days)


def case_rows(
    session: Session, authority: Authority, cases: Sequence[Case], today: dt.date
) -> list[ListedCase]:
    units = unit_queries.by_id(
        session, (u for c in cases for u in (c.owner_id, c.assignee_id, c.region_id))
    )
    titles = ks_titles(session, (c.knowledge_support_id or c.id for c in cases))
    authority.prefetch_cases(cases)
    rows = []
    for case in cases:
        machine = MACHINES[case.type]
        owner = units[case.owner_id].name
        unit = owner
        if case.assignee_id is not None:
            unit = f"{owner} (tilldelad {units[case.assignee_id].name})"
        region = units[case.region_id].name if case.region_id is not None else None
        primary = None
        if case.type == CaseType.LOCAL_IMPLEMENTATION:
            allowed = set(authority.allowed_triggers(case))
            name = next((t for t in PRIMARY_TRIGGERS if t in allowed), None)
            primary = machine.triggers[name] if name else None
        rows.append(
            ListedCase(
                case=case,
                type_label=machine.label,
                state_label=case.state_label,
                title=titles.get(case.knowledge_support_id or case.id, ""),
                unit=unit,
                region=region if region != owner else None,
                overdue_days=overdue_days(case, today),
                due_today=case.due == today and case.is_open,
                primary=primary,
            )
        )
    return rows
