"""Filtered lists of cases, visible to the actor, a page at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.engine.visibility import (
    visible,
)
from kflow.errors import ValidationError
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.paging import Page, page_args
from kflow.states import MACHINES
from kflow.states.knowledge_support import KINDS


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


def regions(session: Session) -> list[Unit]:
    return list(
        session.scalars(select(Unit).where(Unit.kind == UnitKind.REGION).order_by(Unit.name))
    )
