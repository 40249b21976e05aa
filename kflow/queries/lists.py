"""Read models: filtered lists, the inbox, the overview matrix and a case's history.

Every list filters by visibility in SQL (one EXISTS against the unit closure), pages with
limit/offset and returns the total, so pages stay cheap however many cases there are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
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
    func,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.engine.history import CASES, EVENTS
from kflow.engine.visibility import (
    EVERY_CASE,
    EVERY_SUPPORT,
    LIST_SETS,
    Way,
    below,
    disjoint_parts,
    unit_set_values,
    unit_ways,
    visible,
)
from kflow.errors import ValidationError
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.states import MACHINES
from kflow.states.base import CaseType, Scope
from kflow.states.knowledge_support import KINDS

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1  # the largest offset every database takes


@dataclasses.dataclass
class Page:
    items: Sequence[Any]
    total: int


def page_args(limit: Any, offset: Any) -> tuple[int, int]:
    try:
        lim = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        off = 0 if offset in (None, "") else int(offset)
    except (TypeError, ValueError):
        raise ValidationError("limit och offset måste vara heltal.") from None
    if not 1 <= lim <= MAX_LIMIT:
        raise ValidationError(f"limit måste vara mellan 1 och {MAX_LIMIT}.")
    if off < 0:
        raise ValidationError("offset får inte vara negativt.")
    if off > MAX_OFFSET:
        raise ValidationError(f"offset får vara högst {MAX_OFFSET}.")
    return lim, off


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError(f"kind måste vara en av: {', '.join(KINDS)}.")
    return kind


def _unit_id(session: Session, code: str, name: str) -> int:
    unit_id = session.scalar(select(Unit.id).where(Unit.code == code))
    if unit_id is None:
        raise ValidationError(f"{name}: det finns ingen enhet med koden '{code}'.")
    return unit_id


def list_cases(
    session: Session,
    authority: Authority,
    case_type: str,
    *,
    knowledge_support: Any = None,
    region: str | None = None,
    unit: str | None = None,
    state: str | None = None,
    owner: str | None = None,
    kind: str | None = None,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    lim, off = page_args(limit, offset)
    machine = MACHINES[case_type]
    conditions: list[ColumnElement[bool]] = [Case.type == case_type, visible(authority)]
    if knowledge_support not in (None, ""):
        try:
            conditions.append(Case.knowledge_support_id == int(knowledge_support))
        except (TypeError, ValueError):
            raise ValidationError("knowledge_support måste vara ett ärendenummer.") from None
    if state:
        if state not in machine.state_names:
            raise ValidationError(f"state måste vara en av: {', '.join(machine.states)}.")
        conditions.append(Case.state == state)
    if region:
        conditions.append(Case.region_id == _unit_id(session, region, "region"))
    if unit:
        unit_id = _unit_id(session, unit, "unit")
        conditions.append(or_(Case.owner_id == unit_id, Case.assignee_id == unit_id))
    if owner:
        conditions.append(Case.owner_id == _unit_id(session, owner, "owner"))
    if kind:
        conditions.append(KnowledgeSupport.kind == _kind(kind))
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    items = session.scalars(
        select(Case).where(where).order_by(Case.id.desc()).limit(lim).offset(off)
    ).all()
    return Page(items, total)


def _act_selects(authority: Authority) -> list[list[Select[Any]]]:
    """(id, due) of the cases the actor can act on now, as one SELECT per (case type, role,
    place), grouped by case type: each reads one index (owner, assignee or region, then type,
    state and due) and no table rows, so the inbox costs what the actor's own cases cost, not
    what the database holds.
    """
    by_role: dict[str, set[int]] = defaultdict(set)
    for unit_id, role in authority.memberships:
        by_role[role].add(unit_id)
    c = CASES.c
    groups: list[list[Select[Any]]] = []
    for case_type, machine in MACHINES.items():
        # (role, scope) -> states where that grant allows some manual trigger
        states: dict[tuple[str, str], set[str]] = defaultdict(set)
        for spec in machine.triggers.values():
            for grant in spec.grants:
                if grant.role in by_role:
                    states[(grant.role, grant.scope)] |= spec.sources
        selects: list[Select[Any]] = []
        for (role, scope), state_set in states.items():
            reach = below(by_role[role])
            places = [c.owner_id, c.assignee_id] if scope == Scope.CASE else [c.region_id]
            assert scope in (Scope.CASE, Scope.REGION)
            for place in places:
                selects.append(
                    select(c.id, c.due).where(
                        place.in_(reach), c.type == case_type, c.state.in_(sorted(state_set))
                    )
                )
        if selects:
            groups.append(selects)
    return groups


def inbox(session: Session, authority: Authority, *, limit: Any = None, offset: Any = None) -> Page:
    """Cases the actor can act on now, earliest due first (undated last)."""
    lim, off = page_args(limit, offset)
    groups = _act_selects(authority)
    if not groups:
        return Page([], 0)
    # UNION, not OR: each part reads its own index, and a case two roles (or an owner and an
    # assignee) reach counts once. A case has one type, so the types are a UNION ALL: only the
    # parts of one type are checked for repeats, not every match.
    parts = [group[0] if len(group) == 1 else union(*group) for group in groups]
    if len(parts) == 1:
        matches = parts[0].subquery("inbox")
    else:  # SQLite takes no parenthesised compound inside another: a UNION goes in a subquery
        matches = union_all(
            *(part if isinstance(part, Select) else part.subquery().select() for part in parts)
        ).subquery("inbox")
    order = (matches.c.due.is_(None), matches.c.due, matches.c.id)
    return _case_page(session, matches, order, lim, off)


def _case_page(session: Session, matches: Any, order: Sequence[Any], lim: int, off: int) -> Page:
    """One page of the cases ``matches`` (id, due) holds, with their total, in one pass over
    them (the total as a window over the matches), then the page's cases by id."""
    connection = session.connection()
    rows = connection.execute(
        select(matches.c.id, func.count().over())
        .select_from(matches)
        .order_by(*order)
        .limit(lim)
        .offset(off)
    ).all()
    if rows:
        total = rows[0][1]
    else:  # past the last page: count them without a page
        total = connection.execute(select(func.count()).select_from(matches)).scalar() or 0
    return Page(_cases_in_order(session, [row[0] for row in rows]), total)


def _cases_in_order(session: Session, ids: list[int]) -> list[Case]:
    """The cases ``ids`` names, in that order (one read)."""
    found = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(ids)))}
    return [found[i] for i in ids]


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


# History rows: the columns as attributes (rows, not ORM objects: they are never changed). A page
# finds its slice among the row ids alone (index-only: the case index holds the id), then reads
# just those rows, so a later page costs no more than the first.
class _EventReads(NamedTuple):
    page: Select[Any]  # a page, by "lim" and "off"
    total: Select[Any]
    every: Select[Any]  # all of them


def _events_of(cases: ColumnElement[bool]) -> _EventReads:
    """The reads of the history rows whose case matches ``cases``, oldest first."""
    page_ids = (
        select(EVENTS.c.id)
        .where(cases)
        .order_by(EVENTS.c.id)
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
    )
    return _EventReads(
        page=select(EVENTS).where(EVENTS.c.id.in_(page_ids)).order_by(EVENTS.c.id),
        total=select(func.count()).select_from(EVENTS).where(cases),
        every=select(EVENTS).where(cases).order_by(EVENTS.c.id),
    )


# The rows of a list of cases; and those of a knowledge support and every case below it.
_LISTED = _events_of(EVENTS.c.case_id.in_(bindparam("cases", expanding=True)))
_CHAIN = _events_of(
    EVENTS.c.case_id.in_(
        union_all(
            select(bindparam("ks", type_=Integer)),
            select(CASES.c.id).where(CASES.c.knowledge_support_id == bindparam("ks")),
        )
    )
)


def _event_page(
    session: Session, reads: _EventReads, params: dict[str, Any], lim: int, off: int
) -> Page:
    connection = session.connection()
    total = connection.scalar(reads.total, params) or 0
    if off >= total:
        return Page([], total)
    return Page(connection.execute(reads.page, {**params, "lim": lim, "off": off}).all(), total)


def history(session: Session, case: Case, *, limit: Any = None, offset: Any = None) -> Page:
    """A case's history rows, oldest first."""
    lim, off = page_args(limit, offset)
    return _event_page(session, _LISTED, {"cases": [case.id]}, lim, off)


def all_history(session: Session, case: Case) -> list[Any]:
    """Every history row of a case, oldest first (for a download; no page limit)."""
    return list(session.connection().execute(_LISTED.every, {"cases": [case.id]}).all())


def _chain_reads(
    session: Session, authority: Authority, ks: Case
) -> tuple[_EventReads, dict[str, Any]]:
    """How to read the history rows of ``ks`` and the cases below it the actor may read."""
    if authority.actor.is_system or authority.roles_at(ks.owner_id):
        # The knowledge support's own NPO (and whoever is above it) reads every case below it
        # (Authority.can_read): no case needs judging.
        return _CHAIN, {"ks": ks.id}
    # Otherwise the readable cases first (one indexed read), then their rows by (case_id, id):
    # cheaper than judging visibility again for every history row.
    readable = session.connection().execute(
        select(CASES.c.id).where(CASES.c.knowledge_support_id == ks.id, visible(authority))
    )
    return _LISTED, {"cases": [ks.id, *readable.scalars()]}


def chain_history(
    session: Session,
    authority: Authority,
    ks: Case,
    *,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    """A knowledge support's whole history across the tiers, oldest first: its own events and
    those of every consultation response, adaptation and local implementation the actor may
    read, a page at a time with the total."""
    lim, off = page_args(limit, offset)
    reads, params = _chain_reads(session, authority, ks)
    return _event_page(session, reads, params, lim, off)


def all_chain_history(session: Session, authority: Authority, ks: Case) -> list[Any]:
    """``chain_history`` in one read, every row (for a download: a knowledge support's chain
    holds a few thousand rows at most, 333 cases of a handful of moves each)."""
    reads, params = _chain_reads(session, authority, ks)
    return list(session.connection().execute(reads.every, params).all())


def regions(session: Session) -> list[Unit]:
    return list(
        session.scalars(select(Unit).where(Unit.kind == UnitKind.REGION).order_by(Unit.name))
    )


class AdaptationCell(NamedTuple):
    """A regional adaptation as the overview shows it (a page holds a thousand of them)."""

    id: int
    type: str
    state: str
    lock_version: int
    owner_id: int
    assignee_id: int | None
    region_id: int | None
    knowledge_support_id: int | None
    due: dt.date | None


@dataclasses.dataclass
class OverviewRow:
    knowledge_support: KnowledgeSupport
    adaptations: dict[int, AdaptationCell]  # region id -> adaptation
    # region id -> {state: count}
    implementations: dict[int, dict[str, int]]


# A page's adaptations and its implementations by region and state: index-only reads (a page
# of 50 knowledge supports returns a thousand adaptations and thousands of counts).
_ADAPTATIONS_OF = select(*(CASES.c[name] for name in AdaptationCell._fields)).where(
    CASES.c.type == CaseType.REGIONAL_ADAPTATION,
    CASES.c.knowledge_support_id.in_(bindparam("supports", expanding=True)),
)
_IMPLEMENTATIONS_OF = (
    select(CASES.c.knowledge_support_id, CASES.c.region_id, CASES.c.state, func.count())
    .where(
        CASES.c.type == CaseType.LOCAL_IMPLEMENTATION,
        CASES.c.knowledge_support_id.in_(bindparam("supports", expanding=True)),
    )
    .group_by(CASES.c.knowledge_support_id, CASES.c.region_id, CASES.c.state)
)


def overview(
    session: Session,
    *,
    owner: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    """Per knowledge support, each region's adaptation and its local implementations by state.

    Three queries per page whatever its size: the knowledge supports, their adaptations, and the
    implementation counts grouped by (knowledge support, region, state).
    """
    lim, off = page_args(limit, offset)
    conditions: list[ColumnElement[bool]] = [Case.type == "knowledge_support"]
    if owner:
        conditions.append(Case.owner_id == _unit_id(session, owner, "owner"))
    if kind:
        conditions.append(KnowledgeSupport.kind == _kind(kind))
    if state:
        if state not in MACHINES["knowledge_support"].state_names:
            raise ValidationError("state är inget läge för kunskapsstöd.")
        conditions.append(Case.state == state)
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    supports = session.scalars(
        select(KnowledgeSupport).where(where).order_by(Case.id.desc()).limit(lim).offset(off)
    ).all()
    ids = [ks.id for ks in supports]
    rows = {ks.id: OverviewRow(ks, {}, defaultdict(dict)) for ks in supports}
    if ids:
        supports_of = {"supports": ids}
        connection = session.connection()
        for values in connection.execute(_ADAPTATIONS_OF, supports_of):
            adaptation = AdaptationCell(*values)
            assert adaptation.knowledge_support_id is not None and adaptation.region_id
            rows[adaptation.knowledge_support_id].adaptations[adaptation.region_id] = adaptation
        counts = connection.execute(_IMPLEMENTATIONS_OF, supports_of).all()
        for ks_id, region_id, li_state, count in counts:
            assert ks_id is not None and region_id is not None
            rows[ks_id].implementations[region_id][li_state] = count
    return Page([rows[i] for i in ids], total)
