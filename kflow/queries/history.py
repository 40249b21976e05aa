"""History: a case's rows, and a knowledge support's whole chain, as the actor may read it."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    func,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.engine.history import CASES, EVENTS
from kflow.engine.visibility import (
    visible,
)
from kflow.listparams import among
from kflow.paging import Page, page_args


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
_LISTED = _events_of(among(EVENTS.c.case_id, "cases"))


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
