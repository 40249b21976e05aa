"""What the follow-up views and API read: indicators, and measurements as their reader may see
them. Indicators are read by everyone (knowledge supports and units are); a measurement by
whoever may read its unit's cases: a role at or above the unit (its region's included), or in
the owner of its indicator (the knowledge support's NPO, the programme unit)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from kflow import paging
from kflow.cases.models import Case, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.engine.visibility import subquery_sets
from kflow.errors import NotFound, ValidationError
from kflow.followup import periods
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit, User


def unit_by_code(session: Session, code: str, name: str) -> Unit:
    """The unit with ``code``; a ValidationError naming the field ``name`` if there is none."""
    found = session.scalar(select(Unit).where(Unit.code == code))
    if found is None:
        raise ValidationError(f"{name}: det finns ingen enhet med koden '{code}'.")
    return found


def _unit_id(session: Session, code: str | None, name: str) -> int | None:
    return unit_by_code(session, code, name).id if code else None


def indicators(
    session: Session,
    *,
    knowledge_support: Any = None,
    owner_unit: str | None = None,
    limit: Any = None,
    offset: Any = None,
) -> paging.Page:
    """Indicators with their owner unit's code, ``(indicator, owner code)``, by id."""
    lim, off = paging.page_args(limit, offset)
    owner = aliased(Unit)
    stmt = select(Indicator, owner.code).outerjoin(owner, owner.id == Indicator.owner_unit_id)
    if knowledge_support not in (None, ""):
        try:
            ks_id = int(knowledge_support)
        except (TypeError, ValueError):
            raise ValidationError("knowledge_support måste vara ett heltal.") from None
        stmt = stmt.where(Indicator.knowledge_support_id == ks_id)
    unit_id = _unit_id(session, owner_unit, "owner_unit")
    if unit_id is not None:
        stmt = stmt.where(Indicator.owner_unit_id == unit_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Indicator.id).limit(lim).offset(off)).all()
    return paging.Page([tuple(row) for row in rows], total)


def indicator(session: Session, indicator_id: Any) -> Indicator:
    found = session.get(Indicator, indicator_id) if isinstance(indicator_id, int) else None
    if found is None:
        raise NotFound("Det finns ingen sådan indikator.")
    return found


def indicator_by_code(session: Session, code: str) -> Indicator | None:
    return session.scalar(select(Indicator).where(Indicator.code == code))


def owner_code(session: Session, found: Indicator) -> str | None:
    if found.owner_unit_id is None:
        return None
    return session.scalar(select(Unit.code).where(Unit.id == found.owner_unit_id))


def readable(authority: Authority) -> ColumnElement[bool]:
    """The measurements the actor may read, as one condition (on a statement joining
    Indicator)."""
    if authority.actor.is_system:
        return true()
    units = authority.member_unit_ids
    if not units:
        return Measurement.id.is_(None)  # nothing
    sets = subquery_sets(units)
    return or_(
        Measurement.unit_id.in_(sets.reach),
        Indicator.knowledge_support_id.in_(sets.their_supports),
        Indicator.owner_unit_id.in_(sets.reach),
    )


@dataclasses.dataclass
class Row:
    """A measurement with what a reader needs beside it."""

    measurement: Measurement
    indicator: Indicator
    unit_code: str
    unit_name: str
    reported_by: str | None  # the reporter's e-mail


def _rows(session: Session, stmt: Any) -> list[Row]:
    return [Row(m, i, code, name, email) for m, i, code, name, email in session.execute(stmt)]


def _select() -> Any:
    return (
        select(Measurement, Indicator, Unit.code, Unit.name, User.email)
        .join(Indicator, Indicator.id == Measurement.indicator_id)
        .join(Unit, Unit.id == Measurement.unit_id)
        .outerjoin(User, User.id == Measurement.reported_by_id)
    )


def measurements(
    session: Session,
    authority: Authority,
    *,
    indicator: Any = None,
    unit: str | None = None,
    period: str | None = None,
    history: Any = None,
    limit: Any = None,
    offset: Any = None,
) -> paging.Page:
    """The measurements the actor may read, newest first; only current values unless
    ``history`` is true (then superseded ones too)."""
    lim, off = paging.page_args(limit, offset)
    if history not in (None, "true", "false", True, False):
        raise ValidationError("history måste vara true eller false.")
    stmt = _select().where(readable(authority))
    if history not in ("true", True):
        stmt = stmt.where(Measurement.superseded_at.is_(None))
    if indicator not in (None, ""):
        try:
            stmt = stmt.where(Measurement.indicator_id == int(indicator))
        except (TypeError, ValueError):
            raise ValidationError("indicator måste vara ett heltal.") from None
    unit_id = _unit_id(session, unit, "unit")
    if unit_id is not None:
        stmt = stmt.where(Measurement.unit_id == unit_id)
    if period:
        stmt = stmt.where(Measurement.period == periods.parse(period).code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(Measurement.reported_at.desc(), Measurement.id.desc())
    return paging.Page(_rows(session, ordered.limit(lim).offset(off)), total)


def measurement(session: Session, authority: Authority, measurement_id: int) -> Row:
    """One measurement the actor may read (else 404)."""
    stmt = _select().where(Measurement.id == measurement_id, readable(authority))
    found = _rows(session, stmt)
    if not found:
        raise NotFound("Det finns inget sådant mätvärde (eller du får inte läsa det).")
    return found[0]


def of_case(session: Session, case: Case) -> list[Row]:
    """Every measurement linked to a local implementation, superseded ones included: by
    indicator, period (latest first) and time reported."""
    stmt = _select().where(Measurement.case_id == case.id)
    ordered = stmt.order_by(Indicator.name, Measurement.period.desc(), Measurement.id)
    return _rows(session, ordered)


def for_timeline(session: Session, case: Case, limit: int) -> list[Row]:
    """The measurements linked to ``case``, oldest first (at most ``limit``)."""
    stmt = _select().where(Measurement.case_id == case.id)
    return _rows(session, stmt.order_by(Measurement.reported_at, Measurement.id).limit(limit))


def indicators_of(session: Session, ks: KnowledgeSupport) -> list[Indicator]:
    return list(
        session.scalars(
            select(Indicator)
            .where(Indicator.knowledge_support_id == ks.id)
            .order_by(Indicator.name)
        )
    )
