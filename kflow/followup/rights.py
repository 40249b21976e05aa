"""Who may define indicators and report measurements (lifecycle.md §6.1, §6.2), in one place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.followup.lists import IndicatorTarget
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import Role, UnitKind
from kflow.states.base import CaseType
from kflow.states.indicator_list import State as ListState

# The subkinds of §5.1 that make a regional group a programme unit, which may own indicators.
PROGRAMME_SUBKINDS = frozenset(
    {"rpo", "lpo", "samordningsrad", "primarvardsrad", "regionalt_processteam"}
)
DEFINE_ROLES = (Role.CHAIR, Role.PROCESS_LEAD)
# Held in (or above) a unit with a target or a measuring local implementation.
REPORT_ROLES = (Role.LOCAL_LEAD, Role.MEMBER, Role.PROCESS_LEAD)
# Held in (or above) the unit's region: reports for any unit of the region.
REGION_REPORT_ROLE = Role.COORDINATOR


def is_programme_unit(unit: Unit) -> bool:
    """A unit that may own indicators: a regional group of a programme subkind. A unit without
    a subkind (one created before subkinds existed, §5.1) counts if it is a regional group."""
    if unit.kind != UnitKind.REGIONAL_GROUP:
        return False
    subkind = getattr(unit, "subkind", None)
    return subkind is None or subkind in PROGRAMME_SUBKINDS


def holds_target(session: Session, indicator_id: int, unit_id: int) -> bool:
    """Whether ``unit_id`` holds a target for the indicator on an approved indicator list
    (§6.3)."""
    found = session.scalar(
        select(IndicatorTarget.id)
        .join(Case, Case.id == IndicatorTarget.case_id)
        .where(
            IndicatorTarget.indicator_id == indicator_id,
            IndicatorTarget.unit_id == unit_id,
            Case.type == CaseType.INDICATOR_LIST,
            Case.state == ListState.APPROVED,
        )
        .limit(1)
    )
    return found is not None


def regions_of(session: Session, unit_id: int) -> list[int]:
    """The regions at or above ``unit_id``: one for a unit of a region, each region of its
    healthcare region for a healthcare-region group (§5.1), none for a national unit."""
    return list(
        session.scalars(
            select(Unit.id)
            .join(UnitClosure, UnitClosure.ancestor_id == Unit.id)
            .where(UnitClosure.descendant_id == unit_id, Unit.kind == UnitKind.REGION)
        )
    )
