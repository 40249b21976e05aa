"""What a trigger will do, said before it is done: read from its declared effects.

A destructive trigger's form says what follows ("Avbryt kunskapsstödet: 21 remissvar
avbryts"), counted from the cases its Cascades would move now (the cascaded trigger's source
states, below the knowledge support or in its current round), and warns of the cases a
Cascade would take from people still working on them (``Cascade.busy``: "5 regioner arbetar
fortfarande med sina svar: …"). Read only; the engine does the moving.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.org.models import Membership, Unit, UnitClosure, User
from kflow.org.roles import UnitKind
from kflow.states import MACHINES
from kflow.states.base import Below, Cascade, CaseMachine, Scope, Trigger


@dataclasses.dataclass
class Consequence:
    """What firing a trigger on a case will do, in Swedish."""

    says: str  # "Avbryt kunskapsstödet: 21 remissvar avbryts."
    warnings: list[str] = dataclasses.field(default_factory=list)
    touched: int = 0  # cases below that the trigger's cascades move


CASES = cast(Table, Case.__table__)


def _below(case: Case, cascade: Cascade) -> list[Any]:
    """Where the cases the cascade would move now are (as kflow.engine.effects finds them)."""
    support_id = case.id if case.type == "knowledge_support" else case.knowledge_support_id
    where = [CASES.c.type == cascade.machine.case_type, CASES.c.knowledge_support_id == support_id]
    if cascade.below is Below.ROUND:
        where.append(CASES.c.round == getattr(case, "consultation_round", None))
    sources = cascade.machine.triggers[cascade.trigger].sources
    where.append(CASES.c.state.in_(sorted(sources)))
    return where


def of(session: Session, case: Case, spec: Trigger) -> Consequence:
    """What ``spec`` fired on ``case`` now would do (its move and its cascades)."""
    parts: list[str] = []
    warnings: list[str] = []
    touched = 0
    for effect in spec.effects:
        if not isinstance(effect, Cascade):
            continue
        where = _below(case, effect)
        count = session.scalar(select(func.count()).select_from(CASES).where(*where)) or 0
        if not count:
            continue
        touched += count
        outcome = effect.machine.triggers[effect.trigger].outcome or "ändras"
        parts.append(f"{count} {effect.machine.plural} {outcome}")
        if effect.busy:
            names = list(
                session.scalars(
                    select(Unit.name)
                    .join(CASES, CASES.c.owner_id == Unit.id)
                    .where(*where, CASES.c.state.in_([str(s) for s in effect.busy]))
                    .order_by(Unit.name)
                )
            )
            if names:
                one, many = effect.busy_says
                text = (one if len(names) == 1 else many).format(n=len(names))
                warnings.append(f"{text}: {', '.join(names)}.")
    machine = MACHINES[case.type]
    if parts:
        says = f"{spec.label}: {_join(parts)}."
    else:
        dest = machine.state_label(machine.destination(case.state, spec.name))
        says = f"{spec.label}: ärendet får läget ”{dest}”."
    return Consequence(says, warnings, touched)


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " och " + parts[-1]


def unstaffed(
    session: Session, unit_ids: list[int], machine: CaseMachine, region_id: int | None
) -> set[int]:
    """Units among ``unit_ids`` where nobody could act on a new case of ``machine``: no active
    user holds, in the unit or above it, a role that fires a trigger of its first state (a
    local unit with no ``local_lead`` or ``member``). A hand-off form warns of them."""
    roles = {
        grant.role
        for name in machine.triggers_from(machine.initial)
        for grant in machine.triggers[name].grants
        if grant.scope == Scope.CASE
    }
    if not unit_ids or not roles:
        return set()
    staffed = session.scalars(
        select(UnitClosure.descendant_id)
        .join(Membership, Membership.unit_id == UnitClosure.ancestor_id)
        .join(User, User.id == Membership.user_id)
        .join(Unit, Unit.id == UnitClosure.ancestor_id)
        .where(
            UnitClosure.descendant_id.in_(unit_ids),
            Membership.role.in_(sorted(roles)),
            User.is_active.is_(True),
            # another region's people never act here (as kflow.mailing.notify.actors)
            or_(Unit.kind != UnitKind.REGION, Unit.id == region_id),
        )
        .distinct()
    )
    return set(unit_ids) - set(staffed)
