"""Försenade: the open cases the actor may read whose due date has passed, most overdue first,
narrowed by case type, region, units and free text (Filters)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    func,
    or_,
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
from kflow.listparams import among, few
from kflow.paging import Page, page_args
from kflow.queries import places
from kflow.queries.inbox import _cases_in_order


@dataclasses.dataclass(frozen=True)
class Filters:
    """What Försenade is narrowed to; None: not narrowed that way."""

    case_type: str | None = None
    regions: tuple[int, ...] | None = None  # the case's region is one of them
    units: tuple[int, ...] | None = None  # owned by or assigned to one of them
    search: str | None = None  # the knowledge support's title or the unit's name holds it

    def values(self, session: Session) -> dict[str, Any]:
        """The filters' parameters (the search matched once, see kflow.queries.places)."""
        found: dict[str, Any] = {}
        if self.case_type:
            found["f_type"] = self.case_type
        if self.regions is not None:
            found["f_regions"] = list(self.regions)
        if self.units is not None:
            found["f_units"] = list(self.units)
        if self.search:
            found["f_titled"] = places.titled_cases(session, self.search)
            found["f_named"] = places.named_units(session, self.search)
        return found


def _in(column: Any, name: str) -> ColumnElement[bool]:
    return among(column, name)


def _narrowed(shape: frozenset[str]) -> list[ColumnElement[bool]]:
    c = CASES.c
    out: list[ColumnElement[bool]] = []
    if "f_type" in shape:
        out.append(c.type == bindparam("f_type"))
    if "f_regions" in shape:
        out.append(few(c.region_id, "f_regions"))
    if "f_units" in shape:
        out.append(or_(_in(c.owner_id, "f_units"), _in(c.assignee_id, "f_units")))
    if "f_titled" in shape:
        titled = or_(_in(c.knowledge_support_id, "f_titled"), _in(c.id, "f_titled"))
        out.append(or_(titled, _in(c.owner_id, "f_named")))
    return out


class _OverdueReads(NamedTuple):
    page: Select[Any]  # ids, by "today", "lim", "off" and the unit sets (see LIST_SETS)
    total: Select[Any]


def _overdue_reads(ways: Sequence[Way], shape: frozenset[str] = frozenset()) -> _OverdueReads:
    c = CASES.c
    condition = and_(c.due < bindparam("today", type_=Date), *_narrowed(shape))
    parts = disjoint_parts(ways, condition, (c.id, c.due))
    # The parts never meet: the total is the sum of their counts, each counted on its own
    # index range (no row of tens of thousands passes through a union to be counted).
    counts = [part.with_only_columns(func.count().label("n")) for part in parts]
    counted = (counts[0] if len(counts) == 1 else union_all(*counts)).subquery("overdue")
    # The page takes the first ``off + lim`` of each part in due order, then the page of
    # those: a part over one region reads ix_cases_region_due in order and stops there, where
    # a sort of the whole would read every overdue case of the region (tens of thousands).
    first: Any = bindparam("first")
    tops = [select(part.order_by(c.due, c.id).limit(first).subquery()) for part in parts]
    heads = (tops[0] if len(tops) == 1 else union_all(*tops)).subquery("overdue_first")
    return _OverdueReads(
        page=select(heads.c.id)
        .order_by(heads.c.due, heads.c.id)
        .limit(bindparam("lim"))
        .offset(bindparam("off")),
        # (PostgreSQL sums bigints as numeric: back to an integer)
        total=select(cast(func.coalesce(func.sum(counted.c.n), 0), Integer)),
    )


@cache
def _system_overdue(shape: frozenset[str]) -> _OverdueReads:
    return _overdue_reads([EVERY_CASE], shape)


_UNIT_WAYS = unit_ways(LIST_SETS, owners_outside_reached_regions=True)


@cache
def _overdue_of(sets: frozenset[str], shape: frozenset[str] = frozenset()) -> _OverdueReads:
    """The overdue reads of an actor whose non-empty unit sets are ``sets``, narrowed by the
    filters named in ``shape``, compiled once for each such shape: a way through an empty set
    reaches nothing, so it is left out (and so are the other parts' checks against it)."""
    ways = [EVERY_SUPPORT, *(way for way in _UNIT_WAYS if way.among in sets)]
    return _overdue_reads(ways, shape)


def overdue(
    session: Session,
    authority: Authority,
    today: Any,
    *,
    filters: Filters | None = None,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    """Open cases the actor may read whose due date has passed, the most overdue first.

    The visibility parts never meet (see ``disjoint_parts``), so the page is a sorted UNION ALL
    and the total a count of it, taken only when the page does not already tell it.
    """
    lim, off = page_args(limit, offset)
    params: dict[str, Any] = {"today": today, "lim": lim, "off": off, "first": off + lim}
    narrowed = (filters or Filters()).values(session)
    params.update(narrowed)
    shape = frozenset(narrowed)
    if authority.actor.is_system:
        reads = _system_overdue(shape)
    else:
        sets = unit_set_values(session, authority.member_unit_ids)
        params.update(sets)
        reads = _overdue_of(frozenset(name for name, value in sets.items() if value), shape)
    connection = session.connection()
    ids = list(connection.scalars(reads.page, params))
    if len(ids) < lim and (ids or off == 0):
        total = off + len(ids)
    else:
        total = connection.scalar(reads.total, params) or 0
    return Page(_cases_in_order(session, ids), total)
