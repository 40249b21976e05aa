"""Min inkorg: the cases the actor can act on now, earliest due first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    func,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.engine.history import CASES
from kflow.engine.visibility import (
    below,
)
from kflow.paging import Page, page_args
from kflow.states import MACHINES
from kflow.states.base import Scope


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
            places = {
                Scope.CASE: [c.owner_id, c.assignee_id],
                Scope.REGION: [c.region_id],
                Scope.RECIPIENT: [c.recipient_id],
            }[Scope(scope)]
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
