"""Indikatorlistor (lifecycle.md §6.3): the targets (måltal) a list holds, and creating a list.

A list is a case (kflow.states.indicator_list); its targets are rows of ``indicator_targets``
written only by its ``set_target`` and ``remove_target`` triggers, so every change is in the
list's history. Targets count while their list is ``approved``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kflow.cases.events import CREATE_TRIGGER
from kflow.cases.models import IndicatorList
from kflow.db import Base, utcnow
from kflow.engine.authority import Authority
from kflow.engine.history import RECORD, event_values
from kflow.errors import Conflict, Forbidden, ValidationError
from kflow.org.models import Unit
from kflow.org.roles import Role, UnitKind
from kflow.states import indicator_list as states

CREATE_ROLES = (Role.COORDINATOR, Role.PROCESS_LEAD)
OWNER_KINDS = (UnitKind.REGION, UnitKind.HEALTHCARE_REGION)
MAX_TITLE = 300


class IndicatorTarget(Base):
    """A måltal: the value ``unit`` should reach for ``indicator`` under list ``case_id``."""

    __tablename__ = "indicator_targets"
    __table_args__ = (
        UniqueConstraint("case_id", "indicator_id", "unit_id"),
        CheckConstraint(
            "tolerance_pct IS NULL OR (tolerance_pct >= 0 AND tolerance_pct <= 100)",
            name="tolerance",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    target_value: Mapped[float]
    tolerance_pct: Mapped[float | None]
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))


def create_indicator_list(
    session: Session,
    authority: Authority,
    *,
    owner: Any,
    year: Any,
    scope: Any,
    title: Any,
    now: dt.datetime | None = None,
) -> IndicatorList:
    """A new list in ``drafting``, by the owner's coordinator or process lead."""
    now = now or utcnow()
    unit = _owner(session, owner)
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year.strip())
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationError("year måste vara ett årtal (ÅÅÅÅ).")
    if scope not in states.SCOPES:
        raise ValidationError(f"scope måste vara en av: {', '.join(states.SCOPES)}.")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        raise ValidationError(f"title krävs (högst {MAX_TITLE} tecken).")
    roles = authority.roles_at(unit.id)
    role = next((r for r in CREATE_ROLES if r in roles), None)
    if role is None:
        raise Forbidden(
            "Bara samordnare eller processledare i regionen kan skapa en indikatorlista."
        )
    taken = session.scalar(
        select(IndicatorList.id).where(
            IndicatorList.owner_id == unit.id,
            IndicatorList.year == year,
            IndicatorList.scope == scope,
            IndicatorList.state != states.State.CANCELLED,
        )
    )
    if taken is not None:
        raise Conflict(
            f"{unit.name} har redan en indikatorlista för {year} ({states.SCOPES[scope]}): "
            f"ärende #{taken}. Revidera den, eller avbryt den innan en ny skapas."
        )
    case = IndicatorList(
        owner_id=unit.id,
        region_id=unit.id if unit.kind == UnitKind.REGION else None,
        year=year,
        scope=scope,
        title=title.strip(),
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()  # the id for the history row
    row = event_values(case.id, CREATE_TRIGGER, None, case.state, authority.actor, role, now)
    session.connection().execute(RECORD, row)
    return case


def _owner(session: Session, owner: Any) -> Unit:
    if not isinstance(owner, str):
        raise ValidationError("owner måste vara en enhetskod.")
    unit = session.scalar(select(Unit).where(Unit.code == owner))
    if unit is None:
        raise ValidationError(f"owner: det finns ingen enhet med koden '{owner}'.")
    if unit.kind not in OWNER_KINDS:
        raise ValidationError("owner måste vara en region eller en sjukvårdsregion.")
    return unit


def targets_of(session: Session, list_id: int) -> list[IndicatorTarget]:
    query = select(IndicatorTarget).where(IndicatorTarget.case_id == list_id)
    # Triggers write targets with Core statements: read them as they are now.
    query = query.order_by(IndicatorTarget.id).execution_options(populate_existing=True)
    return list(session.scalars(query))
