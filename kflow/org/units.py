"""Units: the tree, its closure table and healthcare-region links."""

from __future__ import annotations

import re

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kflow.errors import NotFound, ValidationError
from kflow.org.models import HealthcareRegionMember, Unit, UnitClosure
from kflow.org.roles import UnitKind

MAX_NAME = 200  # the length of units.name
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


# Which kinds of unit may sit under which (None: top level, under the root).
ALLOWED_PARENTS: dict[str, set[str | None]] = {
    UnitKind.ROOT: {None},
    UnitKind.NATIONAL_COUNCIL: {UnitKind.ROOT},
    UnitKind.NPO: {UnitKind.ROOT},
    UnitKind.NSG: {UnitKind.ROOT},
    UnitKind.NAG: {UnitKind.NPO, UnitKind.NSG},
    UnitKind.HEALTHCARE_REGION: {UnitKind.ROOT},
    UnitKind.REGION: {UnitKind.ROOT},
    UnitKind.REGIONAL_GROUP: {UnitKind.REGION, UnitKind.REGIONAL_GROUP},
    UnitKind.LOCAL_UNIT: {UnitKind.REGION, UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT},
}


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"Det finns ingen enhet med koden '{code}'.")
    return unit


def create_unit(
    session: Session, code: str, name: str, kind: str, parent: Unit | None = None
) -> Unit:
    """Add a unit under ``parent`` and extend the closure table with its ancestors."""
    if not CODE_RE.match(code or ""):
        raise ValidationError(
            "Enhetskoden får bara innehålla a-z, 0-9 och bindestreck (2-80 tecken)."
        )
    if kind not in ALLOWED_PARENTS:
        raise ValidationError(f"Okänd enhetstyp '{kind}'.")
    if not (name or "").strip():
        raise ValidationError("Enheten måste ha ett namn.")
    if len(name.strip()) > MAX_NAME:
        raise ValidationError(f"Enhetens namn får vara högst {MAX_NAME} tecken.")
    parent_kind = parent.kind if parent else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        raise ValidationError(
            f"En enhet av typen {kind} kan inte ligga under {parent_kind or 'toppnivån'}."
        )
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise ValidationError(f"Det finns redan en enhet med koden '{code}'.")
    unit = Unit(code=code, name=name.strip(), kind=kind, parent=parent)
    session.add(unit)
    session.flush()  # generate unit.id for the closure rows
    session.add(UnitClosure(ancestor_id=unit.id, descendant_id=unit.id, depth=0))
    if parent is not None:
        _link(session, parent.id, unit.id)
    return unit


def _link(session: Session, ancestor: int, descendant: int) -> None:
    """Make every ancestor-or-self of ``ancestor`` an ancestor of every descendant-or-self."""
    ups = session.execute(
        select(UnitClosure.ancestor_id, UnitClosure.depth).where(
            UnitClosure.descendant_id == ancestor
        )
    ).all()
    downs = session.execute(
        select(UnitClosure.descendant_id, UnitClosure.depth).where(
            UnitClosure.ancestor_id == descendant
        )
    ).all()
    existing = {
        (a, d)
        for a, d in session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.descendant_id).where(
                UnitClosure.ancestor_id.in_([a for a, _ in ups]),
                UnitClosure.descendant_id.in_([d for d, _ in downs]),
            )
        )
    }
    rows = [
        {"ancestor_id": a, "descendant_id": d, "depth": da + dd + 1}
        for a, da in ups
        for d, dd in downs
        if (a, d) not in existing
    ]
    if rows:
        session.execute(insert(UnitClosure), rows)


def link_healthcare_region(session: Session, healthcare_region: Unit, region: Unit) -> None:
    """Record that ``region`` belongs to ``healthcare_region`` (a region may belong to two)."""
    if healthcare_region.kind != UnitKind.HEALTHCARE_REGION or region.kind != UnitKind.REGION:
        raise ValidationError("Bara regioner kan höra till en sjukvårdsregion.")
    found = session.get(HealthcareRegionMember, (healthcare_region.id, region.id))
    if found is None:
        session.add(
            HealthcareRegionMember(healthcare_region_id=healthcare_region.id, region_id=region.id)
        )
        _link(session, healthcare_region.id, region.id)


def is_below(session: Session, unit_id: int, ancestor_id: int) -> bool:
    return (
        session.get(UnitClosure, {"ancestor_id": ancestor_id, "descendant_id": unit_id}) is not None
    )
