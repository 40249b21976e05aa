"""Which cases an actor may read, as SQL: the ways of seeing a case (see Authority.can_read).

``visible`` joins the ways with OR, for a filter on a list that is already narrow (one case
type, one knowledge support). ``disjoint_parts`` turns them into SELECTs that each read one
index and never meet, so a list over them is a UNION ALL: no temporary B-tree to drop repeats,
and its total is a plain count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, literal, not_, or_, select, true
from sqlalchemy.orm import Session

from kflow.engine.authority import CLOSURE, REGION_WIDE, REPORTED, Authority
from kflow.engine.history import CASES
from kflow.listparams import among, few
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.states import MACHINES
from kflow.states.base import CaseType

EVERY_TYPE = tuple(MACHINES)


class Way(NamedTuple):
    """One way of seeing a case: the case types it reaches and, unless it reaches every case of
    those types, ``column IN among``."""

    name: str
    types: tuple[str, ...]
    column: ColumnElement[Any] | None = None
    among: Select[Any] | str | None = None  # a subquery, or a list parameter's name

    @property
    def where(self) -> ColumnElement[bool] | None:
        """The case is seen this way; None for a way that reaches every case of its types."""
        if self.column is None or self.among is None:
            return None
        if isinstance(self.among, str):
            if self.among in _FEW:
                return few(self.column, self.among)
            return among(self.column, self.among)
        return self.column.in_(self.among)

    @property
    def misses(self) -> ColumnElement[bool]:
        """The case is not seen this way (a NULL column misses, not unknown)."""
        seen = self.where
        assert self.column is not None and seen is not None
        return or_(self.column.is_(None), not_(seen))


EVERY_SUPPORT = Way("every_support", (CaseType.KNOWLEDGE_SUPPORT,))
EVERY_CASE = Way("every_case", EVERY_TYPE)  # the system's

# Ways that never reach the same case when the owner way leaves out the reached regions (see
# unit_ways): a case's region is its owner's region.
_DISJOINT = frozenset({frozenset({"region", "owner_outside_reached_regions"})})


class UnitSets(NamedTuple):
    """The unit sets the ways of seeing name, each as a subquery or a list parameter's name."""

    reach: Any  # the actor's units and every unit below them
    reached_regions: Any  # the regions among those
    regions_above: Any  # the regions at or above the actor's units
    owners: Any  # the units whose cases the owner way names (see unit_ways)
    their_supports: Any  # the knowledge supports owned in reach


def below(unit_ids: set[int]) -> Select[Any]:
    """The units at or below ``unit_ids``."""
    return select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id.in_(unit_ids))


def subquery_sets(units: set[int]) -> UnitSets:
    """The unit sets of an actor whose units are ``units``, as subqueries; the owner way names
    every unit reached."""
    reach = below(units)
    above = select(UnitClosure.ancestor_id).where(UnitClosure.descendant_id.in_(units))
    return UnitSets(
        reach=reach,
        reached_regions=select(Unit.id).where(Unit.kind == UnitKind.REGION, Unit.id.in_(reach)),
        regions_above=select(Unit.id).where(Unit.kind == UnitKind.REGION, Unit.id.in_(above)),
        owners=reach,
        their_supports=select(CASES.c.id).where(
            CASES.c.type == CaseType.KNOWLEDGE_SUPPORT, CASES.c.owner_id.in_(reach)
        ),
    )


# The sets as list parameters of the same names (see unit_set_values).
LIST_SETS = UnitSets(*UnitSets._fields)
# Lists of regions: a person's are one or a few (kflow.listparams.few).
_FEW = frozenset({"reached_regions", "regions_above"})


def unit_ways(sets: UnitSets, *, owners_outside_reached_regions: bool) -> list[Way]:
    """The ways an actor with units sees a case beyond every knowledge support.

    A case's region is a region unit (its owner's region), so the region ways name only
    regions: one index range each, not one per unit of a region's tree.

    ``owners_outside_reached_regions``: cases owned inside a region the actor reaches are all
    seen through the region way already, so the owner way may name only the other units
    (national ones, or a local unit's own); ``sets.owners`` must then be those, and the two
    ways never meet.
    """
    c = CASES.c
    owner_way = "owner_outside_reached_regions" if owners_outside_reached_regions else "owner"
    return [
        Way("region_wide", REGION_WIDE, c.region_id, sets.regions_above),
        Way("region", EVERY_TYPE, c.region_id, sets.reached_regions),
        Way(owner_way, EVERY_TYPE, c.owner_id, sets.owners),
        Way("assignee", EVERY_TYPE, c.assignee_id, sets.reach),
        Way("recipient", REPORTED, c.recipient_id, sets.reach),
        Way("their_supports", EVERY_TYPE, c.knowledge_support_id, sets.their_supports),
    ]


def ways_of_seeing(authority: Authority) -> list[Way] | None:
    """The ways the actor may read a case; None for the system, which sees everything."""
    if authority.actor.is_system:
        return None
    units = authority.member_unit_ids
    if not units:
        return [EVERY_SUPPORT]
    return [EVERY_SUPPORT, *unit_ways(subquery_sets(units), owners_outside_reached_regions=False)]


def _of_type(types: tuple[str, ...]) -> ColumnElement[bool] | None:
    if types == EVERY_TYPE:
        return None
    return CASES.c.type == types[0] if len(types) == 1 else CASES.c.type.in_(types)


def visible(authority: Authority) -> ColumnElement[bool]:
    """Cases the actor may read, as one SQL condition."""
    ways = ways_of_seeing(authority)
    if ways is None:
        return true()
    conditions = []
    for way in ways:
        parts = [part for part in (way.where, _of_type(way.types)) if part is not None]
        conditions.append(parts[0] if len(parts) == 1 else and_(*parts))
    return or_(*conditions)


def disjoint_parts(
    ways: Sequence[Way], condition: ColumnElement[bool], columns: Iterable[Any]
) -> list[Select[Any]]:
    """``columns`` of the cases seen one of ``ways`` that meet ``condition``: one SELECT
    per way and case type, no two of which return the same case.

    Each part names its type and the type's states, so it seeks (unit, type, state, due)
    ranges of one index. A part leaves out the cases an earlier way of the same type reaches;
    the ways come biggest first (the region's cases, a unit's own), so the big parts ask nothing
    beyond their index and only the small ones read table rows to check the others.
    """
    c = CASES.c
    parts: list[Select[Any]] = []
    for case_type, machine in MACHINES.items():
        # Every state: a closed case has no due date, so its ranges are empty (no expanding IN)
        states = [literal(state) for state in sorted(machine.state_names)]
        of_type = (c.type == case_type, c.state.in_(states), condition)
        seen = [way for way in ways if case_type in way.types]
        if any(way.where is None for way in seen):  # one way reaches every case of the type
            parts.append(select(*columns).where(*of_type))
            continue
        for i, way in enumerate(seen):
            where = way.where
            assert where is not None
            misses = [e.misses for e in seen[:i] if frozenset({e.name, way.name}) not in _DISJOINT]
            parts.append(select(*columns).where(where, *misses, *of_type))
    return parts


# The unit sets of an actor, as list parameter values for statements built on LIST_SETS.
_BELOW = (
    select(CLOSURE.c.descendant_id, Unit.kind)
    .join(Unit, Unit.id == CLOSURE.c.descendant_id)
    .where(among(CLOSURE.c.ancestor_id, "units"))
)
_REGIONS_ABOVE = select(Unit.id).where(
    Unit.kind == UnitKind.REGION,
    Unit.id.in_(select(CLOSURE.c.ancestor_id).where(among(CLOSURE.c.descendant_id, "units"))),
)
_THEIR_SUPPORTS = select(CASES.c.id).where(
    CASES.c.type == CaseType.KNOWLEDGE_SUPPORT,
    among(CASES.c.owner_id, "units"),
)


def unit_set_values(session: Session, units: set[int]) -> dict[str, list[int]]:
    """LIST_SETS' values for an actor whose units are ``units``, the owner way's units outside
    the reached regions: read once, so a statement's many parts do not each work them out."""
    if not units:
        return {name: [] for name in UnitSets._fields}
    connection = session.connection()
    below = connection.execute(_BELOW, {"units": sorted(units)}).all()
    reach = sorted({unit_id for unit_id, _ in below})
    regions = sorted({unit_id for unit_id, kind in below if kind == UnitKind.REGION})
    in_regions = set(connection.scalars(_BELOW, {"units": regions}))
    return {
        "reach": reach,
        "reached_regions": regions,
        "regions_above": list(connection.scalars(_REGIONS_ABOVE, {"units": sorted(units)})),
        "owners": [u for u in reach if u not in in_regions],
        "their_supports": list(connection.scalars(_THEIR_SUPPORTS, {"units": reach})),
    }
