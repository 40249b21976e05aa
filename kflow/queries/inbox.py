"""Min inkorg: the cases that wait for the actor now, earliest due first.

A case waits for someone when its state declares what it waits for (``CaseMachine.waits``) and
they hold a grant of that: a role that may fire an awaited trigger, or do the awaited action (a
measurement). A state whose wait is ``near_due`` waits only once its due date is near: the day
the reminder ladder's first rung falls due, or later. Search and filters narrow the list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from kflow.calendar import add_business_days, local_date
from kflow.cases.models import Case
from kflow.config import ReminderSettings, Settings
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.engine.history import CASES
from kflow.engine.visibility import below
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.paging import Page, page_args
from kflow.states import MACHINES
from kflow.states.base import CaseType, Scope

MAX_QUERY = 200


@dataclasses.dataclass(frozen=True)
class Filters:
    """Free text (a title, or a case id with or without '#'), a case type, a knowledge
    support's id and a state; empty values do not filter."""

    text: str = ""
    case_type: str = ""
    knowledge_support: int | None = None
    state: str = ""

    @classmethod
    def parse(cls, args: Any) -> Filters:
        """From request arguments (q, type, knowledge_support, state); nonsense filters out
        everything rather than failing, as a search for nothing would."""
        ks = (args.get("knowledge_support") or "").strip()
        return cls(
            text=(args.get("q") or "").strip()[:MAX_QUERY],
            case_type=(args.get("type") or "").strip(),
            knowledge_support=int(ks) if ks.isdigit() and len(ks) < 12 else (-1 if ks else None),
            state=(args.get("state") or "").strip(),
        )

    @property
    def active(self) -> bool:
        return bool(self.text or self.case_type or self.knowledge_support or self.state)


def near_until(today: dt.date, settings: Settings | None = None) -> dt.date:
    """The last due date that counts as near today: the reminder ladder's first rung."""
    reminders = settings.reminders if settings is not None else ReminderSettings()
    return add_business_days(today, reminders.upcoming_business_days_before)


def _narrowing(filters: Filters) -> list[ColumnElement[bool]]:
    c = CASES.c
    where: list[ColumnElement[bool]] = []
    if filters.knowledge_support is not None:
        ks_id = filters.knowledge_support
        where.append(or_(c.knowledge_support_id == ks_id, c.id == ks_id))
    text = filters.text
    if text:
        ks = CASES.alias("ks")
        titled = or_(
            c.title.icontains(text, autoescape=True), c.title.contains(text, autoescape=True)
        )
        named = select(ks.c.id).where(
            ks.c.type == CaseType.KNOWLEDGE_SUPPORT,
            or_(
                ks.c.title.icontains(text, autoescape=True),
                ks.c.title.contains(text, autoescape=True),
            ),
        )
        found = or_(titled, c.knowledge_support_id.in_(named))
        number = text.removeprefix("#").strip()
        if number.isdigit() and len(number) < 12:
            found = or_(found, c.id == int(number))
        where.append(found)
    return where


def _wait_selects(authority: Authority, near: dt.date, filters: Filters) -> list[list[Select[Any]]]:
    """(id, due) of the cases that wait for the actor, as one SELECT per (case type, role,
    place, wait), grouped by case type: each reads one index (owner, assignee, region or
    recipient, then type, state and due), so the inbox costs what the actor's own cases cost.
    """
    by_role: dict[str, set[int]] = defaultdict(set)
    for unit_id, role in authority.memberships:
        by_role[role].add(unit_id)
    c = CASES.c
    narrowing = _narrowing(filters)
    groups: list[list[Select[Any]]] = []
    for case_type, machine in MACHINES.items():
        if filters.case_type and filters.case_type != case_type:
            continue
        # (role, scope, near_due) -> states that wait for that grant
        states: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
        for state, wait in machine.waits.items():
            if filters.state and filters.state != state:
                continue
            for grants in machine.waited_grants(state).values():
                for grant in grants:
                    if grant.role in by_role:
                        states[(grant.role, grant.scope, wait.near_due)].add(state)
        selects: list[Select[Any]] = []
        for (role, scope, near_due), state_set in states.items():
            reach = below(by_role[role])
            if Scope(scope) == Scope.REGION:
                # A case's region is a region unit: naming only the regions reached lets the
                # database read one range of the region index for each (a region's whole tree,
                # hundreds of units, looks to its planner like hundreds of ranges).
                reach = select(Unit.id).where(Unit.kind == UnitKind.REGION, Unit.id.in_(reach))
            places = {
                Scope.CASE: [c.owner_id, c.assignee_id],
                Scope.REGION: [c.region_id],
                Scope.RECIPIENT: [c.recipient_id],
            }.get(Scope(scope), [])
            for place in places:
                where = [place.in_(reach), c.type == case_type, c.state.in_(sorted(state_set))]
                if near_due:
                    where.append(c.due <= near)
                selects.append(select(c.id, c.due).where(and_(*where, *narrowing)))
        if selects:
            groups.append(selects)
    return groups


def _matches(authority: Authority, near: dt.date | None, filters: Filters | None) -> Any | None:
    near = near or near_until(local_date(utcnow()))
    groups = _wait_selects(authority, near, filters or Filters())
    if not groups:
        return None
    # UNION, not OR: each part reads its own index, and a case two roles (or an owner and an
    # assignee) reach counts once. A case has one type, so the types are a UNION ALL: only the
    # parts of one type are checked for repeats, not every match.
    parts = [group[0] if len(group) == 1 else union(*group) for group in groups]
    if len(parts) == 1:
        return parts[0].subquery("inbox")
    # SQLite takes no parenthesised compound inside another: a UNION goes in a subquery
    return union_all(
        *(part if isinstance(part, Select) else part.subquery().select() for part in parts)
    ).subquery("inbox")


def inbox(
    session: Session,
    authority: Authority,
    *,
    limit: Any = None,
    offset: Any = None,
    near: dt.date | None = None,
    filters: Filters | None = None,
) -> Page:
    """Cases that wait for the actor now, earliest due first (undated last). ``near``: the
    last due date that counts as near (``near_until``; today's by default)."""
    lim, off = page_args(limit, offset)
    matches = _matches(authority, near, filters)
    if matches is None:
        return Page([], 0)
    order = (matches.c.due.is_(None), matches.c.due, matches.c.id)
    return _case_page(session, matches, order, lim, off)


# The inbox offers its knowledge supports as a filter list only while it is short enough to
# read: past this many waiting cases (at national size thousands of knowledge supports) one
# searches by title instead, and the list is not read.
SUPPORTS_UP_TO_CASES = 1_000


def supports(
    session: Session,
    authority: Authority,
    near: dt.date | None = None,
    *,
    waiting: int | None = None,
) -> list[Any] | None:
    """(id, title) of the knowledge supports of the cases that wait for the actor (the
    inbox's filter choices), by title; None when more than SUPPORTS_UP_TO_CASES cases wait.
    ``waiting``: the inbox's unfiltered total when the caller knows it (else it is counted, up
    to the limit)."""
    matches = _matches(authority, near, None)
    if matches is None:
        return []
    connection = session.connection()
    if waiting is None:
        first = select(matches.c.id).limit(SUPPORTS_UP_TO_CASES + 1)
        waiting = len(connection.execute(first).all())
    if waiting > SUPPORTS_UP_TO_CASES:
        return None
    c = CASES.c
    ks = CASES.alias("ks")
    ids = select(func.coalesce(c.knowledge_support_id, c.id)).where(c.id.in_(select(matches.c.id)))
    return list(
        connection.execute(
            select(ks.c.id, ks.c.title)
            .where(ks.c.id.in_(ids), ks.c.type == CaseType.KNOWLEDGE_SUPPORT)
            .order_by(ks.c.title, ks.c.id)
        )
    )


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
