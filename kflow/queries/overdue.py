"""Försenade: the open cases the actor may read whose due date has passed, most overdue first."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Date,
    Select,
    bindparam,
    func,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from kflow.engine.authority import Authority
from kflow.engine.history import CASES
from kflow.engine.visibility import (
    EVERY_CASE,
    EVERY_SUPPORT,
    LIST_SETS,
    Way,
    disjoint_parts,
    unit_set_values,
    unit_ways,
)
from kflow.paging import Page, page_args
from kflow.queries.inbox import _cases_in_order


class _OverdueReads(NamedTuple):
    page: Select[Any]  # ids, by "today", "lim", "off" and the unit sets (see LIST_SETS)
    total: Select[Any]


def _overdue_reads(ways: Sequence[Way]) -> _OverdueReads:
    c = CASES.c
    parts = disjoint_parts(ways, c.due < bindparam("today", type_=Date), (c.id, c.due))
    matches = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("overdue")
    return _OverdueReads(
        page=select(matches.c.id)
        .order_by(matches.c.due, matches.c.id)
        .limit(bindparam("lim"))
        .offset(bindparam("off")),
        total=select(func.count()).select_from(matches),
    )


_SYSTEM_OVERDUE = _overdue_reads([EVERY_CASE])


_UNIT_WAYS = unit_ways(LIST_SETS, owners_outside_reached_regions=True)


@cache
def _overdue_of(sets: frozenset[str]) -> _OverdueReads:
    """The overdue reads of an actor whose non-empty unit sets are ``sets``, compiled once for
    each such shape: a way through an empty set reaches nothing, so it is left out (and so are
    the other parts' checks against it)."""
    return _overdue_reads([EVERY_SUPPORT, *(way for way in _UNIT_WAYS if way.among in sets)])


def overdue(
    session: Session,
    authority: Authority,
    today: Any,
    *,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    """Open cases the actor may read whose due date has passed, the most overdue first.

    The visibility parts never meet (see ``disjoint_parts``), so the page is a sorted UNION ALL
    and the total a count of it, taken only when the page does not already tell it.
    """
    lim, off = page_args(limit, offset)
    params: dict[str, Any] = {"today": today, "lim": lim, "off": off}
    if authority.actor.is_system:
        reads = _SYSTEM_OVERDUE
    else:
        sets = unit_set_values(session, authority.member_unit_ids)
        params.update(sets)
        reads = _overdue_of(frozenset(name for name, value in sets.items() if value))
    connection = session.connection()
    ids = list(connection.scalars(reads.page, params))
    if len(ids) < lim and (ids or off == 0):
        total = off + len(ids)
    else:
        total = connection.scalar(reads.total, params) or 0
    return Page(_cases_in_order(session, ids), total)
