"""Who may report a measurement for a unit (lifecycle.md §6.2), checked for one report or for a
whole CSV file with a fixed number of statements.

A reporter may report for a unit when they are the ``coordinator`` of one of the unit's regions,
or a ``local_lead``, ``member`` or ``process_lead`` at or above the unit while the unit holds a
target for the indicator on an approved list or has a local implementation of the indicator's
knowledge support in ``implemented`` or ``following_up``. ``preload`` reads the regions, the
implementations and the targets of every (indicator, unit) pair of a file in three statements;
``check`` then answers each line from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar, cast

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from kflow.cases.models import Case, LocalImplementation
from kflow.engine.authority import Authority
from kflow.errors import Forbidden, InvalidTransition, KflowError
from kflow.followup import rights
from kflow.followup.lists import IndicatorTarget
from kflow.followup.models import Indicator
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.states import local_implementation as li_states
from kflow.states.base import CaseType
from kflow.states.indicator_list import State as ListState

CHUNK = 500  # pairs per IN list: far below any database's parameter limit
T = TypeVar("T")

NOT_MEASURING = "Mätvärden rapporteras när införandet är infört eller under uppföljning."


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Reporters:
    """The reporting rights of one authority, cached per unit and (knowledge support, unit)."""

    def __init__(self, session: Session, authority: Authority) -> None:
        self.session = session
        self.authority = authority
        self._regions: dict[int, list[int]] = {}
        # (knowledge support, unit) -> the unit's implementations, newest first
        self._implementations: dict[tuple[int, int], list[LocalImplementation]] = {}
        self._targets: dict[tuple[int, int], bool] = {}
        # (indicator, unit) -> the implementation to link to, or the refusal, once decided
        self._checked: dict[tuple[int, int], LocalImplementation | KflowError | None] = {}

    def preload(self, pairs: Iterable[tuple[Indicator, Unit]]) -> None:
        pairs = [(i, u) for i, u in pairs if (i.id, u.id) not in self._checked]
        unit_ids = {unit.id for _, unit in pairs if unit.id not in self._regions}
        for unit_id in unit_ids:
            self._regions[unit_id] = []
        for some in chunks(sorted(unit_ids)):
            for unit_id, region_id in self.session.execute(
                select(UnitClosure.descendant_id, Unit.id)
                .join(Unit, Unit.id == UnitClosure.ancestor_id)
                .where(UnitClosure.descendant_id.in_(some), Unit.kind == UnitKind.REGION)
            ):
                self._regions[unit_id].append(region_id)
        places = {r for u in unit_ids for r in self._regions[u]} | unit_ids
        self.authority.prefetch(places)
        supports = {
            (i.knowledge_support_id, u.id) for i, u in pairs if i.knowledge_support_id is not None
        } - set(self._implementations)
        for key in supports:
            self._implementations[key] = []
        if supports:
            for li in self.session.scalars(
                select(LocalImplementation)
                .where(
                    tuple_(
                        LocalImplementation.knowledge_support_id, LocalImplementation.owner_id
                    ).in_(sorted(supports))
                )
                .order_by(LocalImplementation.id.desc())
            ):
                key = (cast(int, li.knowledge_support_id), li.owner_id)
                self._implementations[key].append(li)
        wanted = {(i.id, u.id) for i, u in pairs if (i.id, u.id) not in self._targets}
        for key in wanted:
            self._targets[key] = False
        for part in chunks(sorted(wanted)):
            for key in self.session.execute(
                select(IndicatorTarget.indicator_id, IndicatorTarget.unit_id)
                .join(Case, Case.id == IndicatorTarget.case_id)
                .where(
                    tuple_(IndicatorTarget.indicator_id, IndicatorTarget.unit_id).in_(part),
                    Case.type == CaseType.INDICATOR_LIST,
                    Case.state == ListState.APPROVED,
                )
            ):
                self._targets[(key[0], key[1])] = True

    def implementation(self, indicator: Indicator, unit: Unit) -> LocalImplementation | None:
        """The unit's local implementation of the indicator's knowledge support (its open one,
        else its latest); None for a programme unit's indicator or a unit without one."""
        if indicator.knowledge_support_id is None:
            return None
        key = (indicator.knowledge_support_id, unit.id)
        if key not in self._implementations:
            self.preload([(indicator, unit)])
        found = self._implementations[key]
        return next((li for li in found if li.is_open), found[0] if found else None)

    def check(
        self, indicator: Indicator, unit: Unit, key: tuple[int, int] | None = None
    ) -> LocalImplementation | None:
        """Refuse a reporter without the right; the implementation to link the report to.
        (``key``: the ids of the indicator and the unit, when the caller has them at hand.)"""
        key = key or (indicator.id, unit.id)
        if key not in self._checked:
            if unit.id not in self._regions or key not in self._targets:
                self.preload([(indicator, unit)])
            try:
                self._checked[key] = self._decide(indicator, unit)
            except KflowError as refusal:
                self._checked[key] = refusal
        found = self._checked[key]
        if isinstance(found, KflowError):
            raise type(found)(found.message)
        return found

    def _decide(self, indicator: Indicator, unit: Unit) -> LocalImplementation | None:
        implementation = self.implementation(indicator, unit)
        roles_at = self.authority.roles_at
        if any(rights.REGION_REPORT_ROLE in roles_at(r) for r in self._regions[unit.id]):
            return implementation
        if set(rights.REPORT_ROLES) & roles_at(unit.id):
            measuring = implementation is not None and implementation.state in li_states.MEASURING
            if measuring or self._targets[(indicator.id, unit.id)]:
                return implementation
            if implementation is not None:
                raise InvalidTransition(NOT_MEASURING)
        raise Forbidden(
            f"Du får inte rapportera mätvärden för {unit.name}: det får enhetens lokalt "
            "ansvariga, ledamöter och processledare när enheten har ett måltal för indikatorn "
            "eller ett infört kunskapsstöd, och regionens samordnare."
        )
