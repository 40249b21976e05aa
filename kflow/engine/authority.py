"""Who may see and do what: roles held in a unit reach every unit below it (lifecycle.md §1).

An ``Authority`` is built once per request or job for one actor. It loads the actor's memberships
once and answers "which roles does this actor hold above unit X" from the unit closure table, in
one query per batch of units, so a list page costs the same few queries however long it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from kflow.cases.events import SYSTEM_ACTOR
from kflow.org.models import Membership, Unit, UnitClosure, User
from kflow.org.roles import Role, UnitKind
from kflow.states import MACHINES
from kflow.states.base import CaseType, Scope, Trigger

ADMIN = Role.ADMIN
CLOSURE = cast(Table, UnitClosure.__table__)
MEMBERSHIPS = cast(Table, Membership.__table__)
REGION_WIDE = tuple(CaseType(name) for name, m in MACHINES.items() if m.region_wide)
# The types whose triggers are granted to the unit a case reports to (Scope.RECIPIENT).
REPORTED = tuple(
    CaseType(name)
    for name, m in MACHINES.items()
    if any(g.scope == Scope.RECIPIENT for spec in m.triggers.values() for g in spec.grants)
)


class Placed(Protocol):
    """What authority reads of a case: its type and state and where it sits. A ``Case`` is
    one; so is a read model's row of one (the overview's adaptations, say)."""

    @property
    def id(self) -> int: ...

    @property
    def type(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def owner_id(self) -> int: ...

    @property
    def assignee_id(self) -> int | None: ...

    @property
    def region_id(self) -> int | None: ...

    @property
    def recipient_id(self) -> int | None: ...

    @property
    def knowledge_support_id(self) -> int | None: ...


@dataclass(frozen=True)
class Actor:
    """A user, or the system firing automatic triggers."""

    user: User | None

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def label(self) -> str:
        return self.user.email if self.user else SYSTEM_ACTOR

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None


SYSTEM = Actor(None)


class Authority:
    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        # Loaded on first use: firing one trigger needs only prefetch's single join.
        self._memberships: list[tuple[int, str]] | None = None
        # unit id -> roles the actor holds in that unit or above it
        self._reach: dict[int, frozenset[str]] = {}
        self._above: set[int] | None = None
        # owner unit id -> the host healthcare region of its NPO (None: it has none)
        self._hosts: dict[int, int | None] = {}

    @property
    def memberships(self) -> list[tuple[int, str]]:
        """The actor's (unit id, role) pairs."""
        if self._memberships is None:
            self._memberships = []
            if self.actor.user is not None:
                self._memberships = [
                    (unit_id, role)
                    for unit_id, role in self.session.execute(
                        select(Membership.unit_id, Membership.role).where(
                            Membership.user_id == self.actor.user.id
                        )
                    )
                ]
        return self._memberships

    @property
    def member_unit_ids(self) -> set[int]:
        return {unit_id for unit_id, _ in self.memberships}

    def prefetch(self, unit_ids: Iterable[int | None]) -> None:
        """Load the roles reaching each of ``unit_ids``: one join of memberships and closure."""
        wanted = {u for u in unit_ids if u is not None and u not in self._reach}
        if not wanted:
            return
        found: dict[int, set[str]] = {u: set() for u in wanted}
        if self.actor.user is not None and self._memberships != []:
            # A Core statement on the session's connection: no ORM objects are needed, and it
            # skips the ORM's per-statement work (this runs on every fired trigger).
            rows = self.session.connection().execute(
                select(CLOSURE.c.descendant_id, MEMBERSHIPS.c.role)
                .join(MEMBERSHIPS, MEMBERSHIPS.c.unit_id == CLOSURE.c.ancestor_id)
                .where(
                    MEMBERSHIPS.c.user_id == self.actor.user.id,
                    CLOSURE.c.descendant_id.in_(wanted),
                )
            )
            for descendant, role in rows:
                found[descendant].add(role)
        for unit_id, roles in found.items():
            self._reach[unit_id] = frozenset(roles)

    def know_roles(self, reach: dict[int, set[str]]) -> None:
        """Roles reaching units, read elsewhere (with the case, in ``load_for_fire``)."""
        for unit_id, roles in reach.items():
            self._reach[unit_id] = frozenset(roles)

    def roles_at(self, unit_id: int | None) -> frozenset[str]:
        if unit_id is None:
            return frozenset()
        if unit_id not in self._reach:
            self.prefetch([unit_id])
        return self._reach[unit_id]

    def prefetch_cases(self, cases: Iterable[Placed], ks_owner_ids: Iterable[int] = ()) -> None:
        units: set[int | None] = set(ks_owner_ids)
        for case in cases:
            units.update((case.owner_id, case.assignee_id, case.region_id, case.recipient_id))
        self.prefetch(units)

    def case_roles(self, case: Placed) -> frozenset[str]:
        """Roles reaching the case through its owner or assignee unit."""
        return self.roles_at(case.owner_id) | self.roles_at(case.assignee_id)

    def host_of(self, owner_id: int) -> int | None:
        """The host healthcare region of the NPO at or above ``owner_id`` (an NPO or its NAG)."""
        if owner_id not in self._hosts:
            self._hosts[owner_id] = self.session.scalar(
                select(Unit.host_unit_id)
                .join(UnitClosure, UnitClosure.ancestor_id == Unit.id)
                .where(UnitClosure.descendant_id == owner_id, Unit.kind == UnitKind.NPO)
                .limit(1)
            )
        return self._hosts[owner_id]

    def scope_roles(self, case: Placed, scope: str) -> frozenset[str]:
        """The roles the actor holds where ``scope`` asks (see Scope)."""
        if scope == Scope.CASE:
            return self.case_roles(case)
        if scope == Scope.REGION:
            return self.roles_at(case.region_id)
        if scope == Scope.RECIPIENT:
            return self.roles_at(case.recipient_id)
        assert scope == Scope.HOST
        return self.roles_at(self.host_of(case.owner_id))

    def grants(self, case: Placed) -> dict[str, set[str]]:
        return {scope: set(self.scope_roles(case, scope)) for scope in Scope}

    def role_for(self, case: Placed, spec: Trigger) -> str | None:
        """The role under which the actor may fire ``spec`` on ``case`` (None: not allowed)."""
        if self.actor.is_system:
            return None
        for grant in spec.grants:
            if grant.role in self.scope_roles(case, grant.scope):
                return grant.role
        return None

    def units_above(self) -> set[int]:
        """Every unit at or above one of the actor's units (their region, say)."""
        if self._above is None:
            self._above = set()
            if self.member_unit_ids:
                self._above = set(
                    self.session.scalars(
                        select(UnitClosure.ancestor_id).where(
                            UnitClosure.descendant_id.in_(self.member_unit_ids)
                        )
                    )
                )
        return self._above

    def is_admin_for(self, case: Placed) -> bool:
        return ADMIN in (self.case_roles(case) | self.roles_at(case.region_id))

    def can_read(
        self, case: Placed, ks_owner_id: int | Callable[[], int | None] | None = None
    ) -> bool:
        """Knowledge supports are visible to every user; other cases to their own chain.

        A regional or local case is visible to roles in its unit, assignee or region (or above)
        and to the national owner of its knowledge support. A region's consultation responses and
        adaptations are also visible to everyone working in that region (a local unit's staff see
        the adaptation their own implementation came from). A report is also visible to the
        unit it reports to (its recipient) and above.
        """
        if self.actor.is_system or case.type == CaseType.KNOWLEDGE_SUPPORT:
            return True
        # Cheapest first: the case's own units are usually prefetched already.
        self.prefetch((case.owner_id, case.assignee_id, case.region_id, case.recipient_id))
        if self.case_roles(case) or self.roles_at(case.region_id):
            return True
        if case.recipient_id is not None and self.roles_at(case.recipient_id):
            return True
        if case.type in REGION_WIDE and case.region_id in self.units_above():
            return True
        owner = ks_owner_id() if callable(ks_owner_id) else ks_owner_id
        return bool(self.roles_at(owner))

    def allowed_triggers(self, case: Placed) -> list[str]:
        """Triggers the actor may fire on ``case`` now (state and role; guards not evaluated)."""
        machine = MACHINES[case.type]
        return [
            name
            for name in machine.triggers_from(case.state)
            if machine.triggers[name].manual
            and self.role_for(case, machine.triggers[name]) is not None
        ]
