"""Read models of the organisation: units by id or code, the unit list, national units, the
units below a region, and the labels pickers show."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import func

from kflow.errors import ValidationError
from kflow.org import subkinds
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import NATIONAL_KINDS, UnitKind
from kflow.paging import Page, page_args


def by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Unit]:
    """The units ``ids`` names (None left out), by id, in one read."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


def codes(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The codes of the units ``ids`` names, by id, in one read."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(wanted)))
    return {unit_id: code for unit_id, code in rows}


def names_by_code(session: Session, unit_codes: Collection[str]) -> dict[str, str]:
    """The names of the units ``unit_codes`` names, by code."""
    if not unit_codes:
        return {}
    rows = session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(unit_codes)))
    return {code: name for code, name in rows}


HOME_KINDS = (UnitKind.REGION, UnitKind.HEALTHCARE_REGION)


def labels(session: Session, units: Iterable[Unit]) -> dict[int, str]:
    """What a picker shows for each unit, by id: its name and the region or healthcare region
    it belongs to ("RPO Hjärt- och kärlsjukdomar, Region Skåne"), so same-named units of
    different regions differ. The nearest such unit above it counts (a healthcare region's own
    RPO names the healthcare region, not its regions); a unit with none above it keeps its name.
    One read for all units.
    """
    wanted = {u.id: u.name for u in units}
    if not wanted:
        return {}
    home = aliased(Unit)
    nearest = (
        select(UnitClosure.descendant_id, func.min(UnitClosure.depth).label("depth"))
        .join(home, home.id == UnitClosure.ancestor_id)
        .where(
            UnitClosure.descendant_id.in_(wanted),
            UnitClosure.depth > 0,
            home.kind.in_([str(k) for k in HOME_KINDS]),
        )
        .group_by(UnitClosure.descendant_id)
        .subquery()
    )
    rows = session.execute(
        select(UnitClosure.descendant_id, home.name)
        .join(home, home.id == UnitClosure.ancestor_id)
        .join(
            nearest,
            (nearest.c.descendant_id == UnitClosure.descendant_id)
            & (nearest.c.depth == UnitClosure.depth),
        )
        .where(home.kind.in_([str(k) for k in HOME_KINDS]))
        .order_by(UnitClosure.descendant_id, home.kind, home.name)
    )
    homes: dict[int, str] = {}
    for unit_id, home_name in rows:
        homes.setdefault(unit_id, home_name)
    return {
        unit_id: f"{name}, {homes[unit_id]}" if unit_id in homes else name
        for unit_id, name in wanted.items()
    }


def listed(
    session: Session,
    *,
    kind: str | None = None,
    parent: str | None = None,
    limit: object = None,
    offset: object = None,
) -> Page:
    """Units with their parent's code and the code of the NPO they mirror, ``(unit, parent code,
    mirrors code)``, by kind and name; filtered by kind and by parent (a code)."""
    parent_unit = aliased(Unit)
    mirrored = aliased(Unit)
    stmt = (
        select(Unit, parent_unit.code, mirrored.code)
        .outerjoin(parent_unit, Unit.parent_id == parent_unit.id)
        .outerjoin(mirrored, Unit.mirrors_id == mirrored.id)
    )
    if kind:
        if kind not in set(UnitKind):
            raise ValidationError(f"kind måste vara en av: {', '.join(UnitKind)}.")
        stmt = stmt.where(Unit.kind == kind)
    if parent:
        parent_id = session.scalar(select(Unit.id).where(Unit.code == parent))
        if parent_id is None:
            raise ValidationError(f"parent: det finns ingen enhet med koden '{parent}'.")
        stmt = stmt.where(Unit.parent_id == parent_id)
    lim, off = page_args(limit, offset)
    rows = session.execute(stmt.order_by(Unit.kind, Unit.name)).all()
    return Page(rows[off : off + lim], len(rows))


def national(session: Session) -> list[Unit]:
    """The units that can own a knowledge support (NPO, NSG, national councils), by name."""
    stmt = select(Unit).where(Unit.kind.in_([str(k) for k in NATIONAL_KINDS]))
    return list(session.scalars(stmt.order_by(Unit.name)))


def mirrorable(session: Session) -> list[Unit]:
    """The units a programme unit may mirror: the NPOs and the national primary care council."""
    stmt = select(Unit).where(
        (Unit.kind == UnitKind.NPO) | (Unit.code == subkinds.MIRRORS_PRIMARY_CARE)
    )
    return list(session.scalars(stmt.order_by(Unit.name)))


def any_of_kinds(session: Session, ids: Collection[int], kinds: Collection[str]) -> bool:
    """Whether any of the units ``ids`` is of one of ``kinds`` (one indexed read)."""
    if not ids:
        return False
    found = session.scalar(select(Unit.id).where(Unit.id.in_(ids), Unit.kind.in_(kinds)).limit(1))
    return found is not None


def below(session: Session, unit_id: int | None, kind: str) -> list[Unit]:
    """The units of ``kind`` at or below ``unit_id``, by name."""
    return list(
        session.scalars(
            select(Unit)
            .join(UnitClosure, UnitClosure.descendant_id == Unit.id)
            .where(UnitClosure.ancestor_id == unit_id, Unit.kind == kind)
            .order_by(Unit.name)
        )
    )
