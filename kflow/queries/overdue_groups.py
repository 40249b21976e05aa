"""Försenade grouped by knowledge support, each case with the people responsible for it now
(those who can act on it: kflow.mailing.notify.actors, the same people its reminders reach)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy.orm import Session

from kflow.mailing import notify
from kflow.queries.rows import ListedCase


@dataclasses.dataclass
class OverdueRow:
    listed: ListedCase
    responsible: list[str]  # names, alphabetical; empty: nobody can act on it now


@dataclasses.dataclass
class Group:
    """The overdue cases of one knowledge support (or an indikatorlista), most overdue first."""

    case_id: int  # the knowledge support's
    title: str
    rows: list[OverdueRow]

    @property
    def most_overdue(self) -> int:
        return max(row.listed.overdue_days for row in self.rows)


def responsible(session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """Case id -> the names of the active users who can act on it now: three reads in all."""
    facts = notify.load_facts(session, case_ids)
    acting = notify.actors(session, list(facts.values()))
    people = notify.users_by_id(session, {u for users in acting.values() for u in users})
    return {
        case_id: sorted((people[u].name for u in users if u in people), key=str.casefold)
        for case_id, users in acting.items()
    }


def grouped(session: Session, rows: Sequence[ListedCase]) -> list[Group]:
    """``rows`` (most overdue first) grouped by knowledge support, in the order each group's
    most overdue case comes; within a group, the order of ``rows``."""
    names = responsible(session, [row.case.id for row in rows])
    groups: dict[int, Group] = {}
    for row in rows:
        key = row.case.knowledge_support_id or row.case.id
        group = groups.setdefault(key, Group(key, row.title, []))
        group.rows.append(OverdueRow(row, names.get(row.case.id, [])))
    return list(groups.values())
