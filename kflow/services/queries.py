"""Read models: filtered lists, the inbox, the overview matrix and a case's history.

Every list filters by visibility in SQL (one EXISTS against the unit closure), pages with
limit/offset and returns the total, so pages stay cheap however many cases there are.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from kflow.errors import ValidationError
from kflow.models import Case, CaseEvent, KnowledgeSupport, Unit, UnitClosure, UnitKind
from kflow.services.authority import REGION_WIDE, Authority
from kflow.states import MACHINES
from kflow.states.base import CASE, REGION

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
KS = aliased(Case, name="ks")


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
    return lim, off


def _below(unit_ids: set[int]) -> Select[Any]:
    return select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id.in_(unit_ids))


def visible(authority: Authority) -> ColumnElement[bool]:
    """Cases the actor may read (see Authority.can_read), as a SQL condition."""
    if authority.actor.is_system:
        return true()
    units = authority.member_unit_ids
    if not units:
        return Case.type == "knowledge_support"
    reach = _below(units)
    ks_owner = select(KS.owner_id).where(KS.id == Case.knowledge_support_id).scalar_subquery()
    above = select(UnitClosure.ancestor_id).where(UnitClosure.descendant_id.in_(units))
    return or_(
        Case.type == "knowledge_support",
        and_(Case.type.in_(REGION_WIDE), Case.region_id.in_(above)),
        Case.owner_id.in_(reach),
        Case.assignee_id.in_(reach),
        Case.region_id.in_(reach),
        ks_owner.in_(reach),
    )


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
        conditions.append(KnowledgeSupport.kind == kind)
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    items = session.scalars(
        select(Case).where(where).order_by(Case.id.desc()).limit(lim).offset(off)
    ).all()
    return Page(items, total)


def _act_condition(authority: Authority) -> ColumnElement[bool]:
    """Cases in a state where some role the actor holds (at the right place) may fire a trigger."""
    by_role: dict[str, set[int]] = defaultdict(set)
    for unit_id, role in authority.memberships:
        by_role[role].add(unit_id)
    clauses: list[ColumnElement[bool]] = []
    for case_type, machine in MACHINES.items():
        # (role, scope) -> states where that grant allows some manual trigger
        states: dict[tuple[str, str], set[str]] = defaultdict(set)
        for spec in machine.triggers.values():
            for grant in spec.grants:
                if grant.role in by_role:
                    states[(grant.role, grant.scope)] |= spec.sources
        for (role, scope), state_set in states.items():
            reach = _below(by_role[role])
            if scope == CASE:
                place = or_(Case.owner_id.in_(reach), Case.assignee_id.in_(reach))
            else:
                assert scope == REGION
                place = Case.region_id.in_(reach)
            clauses.append(and_(Case.type == case_type, Case.state.in_(sorted(state_set)), place))
    return or_(*clauses) if clauses else false()


def inbox(session: Session, authority: Authority, *, limit: Any = None, offset: Any = None) -> Page:
    """Cases the actor can act on now, earliest due first (undated last)."""
    lim, off = page_args(limit, offset)
    where = _act_condition(authority)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    items = session.scalars(
        select(Case)
        .where(where)
        .order_by(Case.due.is_(None), Case.due, Case.id)
        .limit(lim)
        .offset(off)
    ).all()
    return Page(items, total)


def history(session: Session, case: Case, *, limit: Any = None, offset: Any = None) -> Page:
    lim, off = page_args(limit, offset)
    where = CaseEvent.case_id == case.id
    total = session.scalar(select(func.count()).select_from(CaseEvent).where(where)) or 0
    items = session.scalars(
        select(CaseEvent).where(where).order_by(CaseEvent.id).limit(lim).offset(off)
    ).all()
    return Page(items, total)


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
    read. One indexed query for the page and one for the total."""
    lim, off = page_args(limit, offset)
    readable = select(Case.id).where(Case.knowledge_support_id == ks.id, visible(authority))
    where = or_(CaseEvent.case_id == ks.id, CaseEvent.case_id.in_(readable))
    total = session.scalar(select(func.count()).select_from(CaseEvent).where(where)) or 0
    items = session.scalars(
        select(CaseEvent).where(where).order_by(CaseEvent.id).limit(lim).offset(off)
    ).all()
    return Page(items, total)


def regions(session: Session) -> list[Unit]:
    return list(
        session.scalars(select(Unit).where(Unit.kind == UnitKind.REGION).order_by(Unit.name))
    )


@dataclasses.dataclass
class OverviewRow:
    knowledge_support: KnowledgeSupport
    # region id -> adaptation (or None)
    adaptations: dict[int, Case]
    # region id -> {state: count}
    implementations: dict[int, dict[str, int]]


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
        conditions.append(KnowledgeSupport.kind == kind)
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
        for adaptation in session.scalars(
            select(Case).where(
                Case.type == "regional_adaptation", Case.knowledge_support_id.in_(ids)
            )
        ):
            assert adaptation.knowledge_support_id is not None
            assert adaptation.region_id is not None
            rows[adaptation.knowledge_support_id].adaptations[adaptation.region_id] = adaptation
        counts = session.execute(
            select(Case.knowledge_support_id, Case.region_id, Case.state, func.count())
            .where(Case.type == "local_implementation", Case.knowledge_support_id.in_(ids))
            .group_by(Case.knowledge_support_id, Case.region_id, Case.state)
        )
        for ks_id, region_id, li_state, count in counts:
            assert ks_id is not None and region_id is not None
            rows[ks_id].implementations[region_id][li_state] = count
    return Page([rows[i] for i in ids], total)
