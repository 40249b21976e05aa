"""Units: the tree, its closure table and healthcare-region links."""

from __future__ import annotations

import re

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kflow.errors import NotFound, ValidationError
from kflow.org.models import HealthcareRegionMember, Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.org.subkinds import (
    ALLOWED_PARENTS as SUBKIND_PARENTS,
)
from kflow.org.subkinds import (
    MIRRORS_PRIMARY_CARE,
    PROGRAMME_SUBKINDS,
    SUBKIND_KINDS,
    SUBKIND_LABELS,
    Subkind,
    parent_text,
)

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
    session: Session,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    *,
    subkind: str | None = None,
    mirrors: str | None = None,
) -> Unit:
    """Add a unit under ``parent`` and extend the closure table with its ancestors.

    ``subkind`` (lifecycle.md §5.1) must belong to ``kind`` and decides where the unit may sit;
    ``mirrors`` (a programme unit's NPO code, or primarvardsradet) is checked against the units.
    A regional group under a healthcare region is also placed below each of its regions.
    """
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
    if subkind:
        _check_subkind(subkind, kind, parent)
    elif parent_kind not in ALLOWED_PARENTS[kind]:
        raise ValidationError(
            f"En enhet av typen {kind} kan inte ligga under {parent_kind or 'toppnivån'}."
        )
    mirrored = _mirrored(session, subkind, mirrors)
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise ValidationError(f"Det finns redan en enhet med koden '{code}'.")
    unit = Unit(
        code=code,
        name=name.strip(),
        kind=kind,
        parent=parent,
        subkind=subkind or None,
        mirrors=mirrored,
    )
    session.add(unit)
    session.flush()  # generate unit.id for the closure rows
    session.add(UnitClosure(ancestor_id=unit.id, descendant_id=unit.id, depth=0))
    if parent is not None:
        _link(session, parent.id, unit.id)
        if parent.kind == UnitKind.HEALTHCARE_REGION:
            _share_with_regions(session, parent.id, group_id=unit.id)
    return unit


def _check_subkind(subkind: str, kind: str, parent: Unit | None) -> None:
    if subkind not in set(Subkind):
        raise ValidationError(f"Okänd undertyp '{subkind}' (tillåtna: {', '.join(Subkind)}).")
    sub = Subkind(subkind)
    if SUBKIND_KINDS[sub] != kind:
        raise ValidationError(
            f"Undertypen {SUBKIND_LABELS[sub].lower()} ({sub}) hör till enhetstypen "
            f"{SUBKIND_KINDS[sub]}, inte {kind}."
        )
    allowed = SUBKIND_PARENTS[sub]
    if parent is None or not ({parent.kind, parent.subkind} & allowed):
        where = parent.name if parent is not None else "toppnivån"
        raise ValidationError(
            f"En enhet av undertypen {SUBKIND_LABELS[sub].lower()} ({sub}) kan inte ligga "
            f"under {where}; den ska ligga under {parent_text(sub)}."
        )


def _mirrored(session: Session, subkind: str | None, mirrors: str | None) -> Unit | None:
    """The unit a programme unit mirrors: an NPO, or the national primary care council."""
    if not mirrors:
        return None
    if subkind not in PROGRAMME_SUBKINDS:
        names = ", ".join(sorted(PROGRAMME_SUBKINDS))
        raise ValidationError(f"Bara programenheter ({names}) kan spegla ett NPO (mirrors).")
    found = session.scalar(select(Unit).where(Unit.code == mirrors))
    is_npo = found is not None and found.kind == UnitKind.NPO
    if found is None or not (is_npo or mirrors == MIRRORS_PRIMARY_CARE):
        raise ValidationError(
            f"mirrors: '{mirrors}' är inget nationellt programområde "
            f"(ange ett NPO:s kod eller {MIRRORS_PRIMARY_CARE})."
        )
    return found


def _share_with_regions(
    session: Session,
    healthcare_region_id: int,
    *,
    group_id: int | None = None,
    region_id: int | None = None,
) -> None:
    """Place the regional groups of a healthcare region (``group_id``, or all of them), and
    everything below them, below its regions (``region_id``, or all of them): lifecycle.md §5.1,
    a healthcare-region unit belongs to every region of its healthcare region.

    Only the region itself becomes an ancestor, not what lies above it (the other healthcare
    region of Halland gains nothing). The depth counts the way through the healthcare region.
    """
    if group_id is not None:
        groups = [group_id]
    else:
        groups = list(
            session.scalars(
                select(Unit.id).where(
                    Unit.parent_id == healthcare_region_id,
                    Unit.kind == UnitKind.REGIONAL_GROUP,
                )
            )
        )
    if region_id is not None:
        regions = [region_id]
    else:
        regions = list(
            session.scalars(
                select(HealthcareRegionMember.region_id).where(
                    HealthcareRegionMember.healthcare_region_id == healthcare_region_id
                )
            )
        )
    if not groups or not regions:
        return
    below_groups = select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id.in_(groups))
    downs = session.execute(
        select(UnitClosure.descendant_id, UnitClosure.depth).where(
            UnitClosure.ancestor_id == healthcare_region_id,
            UnitClosure.descendant_id.in_(below_groups),
        )
    ).all()
    existing = {
        (a, d)
        for a, d in session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.descendant_id).where(
                UnitClosure.ancestor_id.in_(regions), UnitClosure.descendant_id.in_(below_groups)
            )
        )
    }
    rows = [
        {"ancestor_id": r, "descendant_id": d, "depth": depth + 1}
        for r in regions
        for d, depth in downs
        if (r, d) not in existing
    ]
    if rows:
        session.execute(insert(UnitClosure), rows)


def set_host(session: Session, npo: Unit, healthcare_region: Unit | None) -> None:
    """Record the NPO's host healthcare region (värdskap, lifecycle.md §5.2)."""
    if npo.kind != UnitKind.NPO:
        raise ValidationError("Bara nationella programområden har en värdregion.")
    if healthcare_region is not None and healthcare_region.kind != UnitKind.HEALTHCARE_REGION:
        raise ValidationError(f"Värdregionen '{healthcare_region.code}' är ingen sjukvårdsregion.")
    npo.host = healthcare_region


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
        _share_with_regions(session, healthcare_region.id, region_id=region.id)


def is_below(session: Session, unit_id: int, ancestor_id: int) -> bool:
    return (
        session.get(UnitClosure, {"ancestor_id": ancestor_id, "descendant_id": unit_id}) is not None
    )
