"""Who is told about a case, and the immediate mails (hand-offs, deviations).

"The people who can act on the case now" are the active users holding, in the case's owner or
assignee unit or above it, a role that grants one of the manual triggers legal from the case's
state (or, for a trigger granted to the recipient, in the unit the case reports to or above it).
One tier up is the region for a local case, the owner NPO for a regional one and the recipient
for a report.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.config import Settings
from kflow.listparams import among
from kflow.mailing.messages import case_url
from kflow.mailing.outbox import Mail, enqueue
from kflow.org.models import Membership, Unit, UnitClosure, User
from kflow.org.roles import Role, UnitKind
from kflow.states import MACHINES
from kflow.states.base import CaseType, Scope


@dataclasses.dataclass
class CaseFacts:
    """What a mail says about a case, loaded for many cases in one query."""

    id: int
    type: str
    state: str
    owner_id: int
    assignee_id: int | None
    region_id: int | None
    ks_owner_id: int | None
    title: str
    unit: str
    due: Any
    recipient_id: int | None = None
    ks_id: int | None = None  # the knowledge support it belongs to (itself, for one)
    target_date: Any = None  # a local implementation's "infört senast", from the hand-off

    def item(self, settings: Settings) -> dict[str, Any]:
        machine = MACHINES[self.type]
        return {
            "type_label": machine.label,
            "title": self.title,
            "unit": self.unit,
            "state_label": machine.state_label(self.state),
            "due": self.due.isoformat() if self.due else "",
            # what the due date asks ("kvittera senast"), and a later target ("infört senast")
            "due_says": machine.due_says.get(self.state, "förfallodag"),
            "target": self.target_date.isoformat() if self.target_date else "",
            "target_says": machine.target_says,
            "url": case_url(settings, self.id),
        }

    @property
    def tier_up_unit(self) -> int | None:
        if self.recipient_id is not None:
            return self.recipient_id
        if self.type == CaseType.LOCAL_IMPLEMENTATION:
            return self.region_id
        if self.type in (CaseType.REGIONAL_ADAPTATION, CaseType.CONSULTATION_RESPONSE):
            return self.ks_owner_id
        return None


CASES = cast(Table, Case.__table__)
CLOSURE = cast(Table, UnitClosure.__table__)
MEMBERSHIPS = cast(Table, Membership.__table__)
UNITS = cast(Table, Unit.__table__)
USERS = cast(Table, User.__table__)
_KS = CASES.alias("ks_case")
_OWNER = UNITS.alias("owner_unit")
# Built once: constructing a select over aliases of the wide cases table costs more than running it.
_FACTS = (
    select(
        CASES.c.id,
        CASES.c.type,
        CASES.c.state,
        CASES.c.owner_id,
        CASES.c.assignee_id,
        CASES.c.region_id,
        _KS.c.owner_id,
        _KS.c.title,
        CASES.c.title,
        _OWNER.c.name,
        CASES.c.due,
        CASES.c.recipient_id,
        CASES.c.knowledge_support_id,
        CASES.c.target_date,
    )
    .join(_OWNER, _OWNER.c.id == CASES.c.owner_id)
    .outerjoin(_KS, _KS.c.id == CASES.c.knowledge_support_id)
    .where(among(CASES.c.id, "ids"))
)
_HELD_IN = UNITS.alias("held_in")
_REACH = (
    select(
        CLOSURE.c.descendant_id,
        MEMBERSHIPS.c.user_id,
        MEMBERSHIPS.c.role,
        CLOSURE.c.ancestor_id,
        _HELD_IN.c.kind,
    )
    .join(MEMBERSHIPS, MEMBERSHIPS.c.unit_id == CLOSURE.c.ancestor_id)
    .join(_HELD_IN, _HELD_IN.c.id == CLOSURE.c.ancestor_id)
    .join(USERS, USERS.c.id == MEMBERSHIPS.c.user_id)
    .where(
        among(CLOSURE.c.descendant_id, "units"),
        among(MEMBERSHIPS.c.role, "roles"),
        USERS.c.is_active,
    )
)
_HOLDERS = (
    select(MEMBERSHIPS.c.unit_id, MEMBERSHIPS.c.user_id)
    .join(USERS, USERS.c.id == MEMBERSHIPS.c.user_id)
    .where(
        among(MEMBERSHIPS.c.unit_id, "units"),
        MEMBERSHIPS.c.role == bindparam("role"),
        USERS.c.is_active,
    )
)
_USERS = select(USERS.c.id, USERS.c.email, USERS.c.name).where(among(USERS.c.id, "ids"))


def load_facts(session: Session, case_ids: Iterable[int]) -> dict[int, CaseFacts]:
    ids = list(case_ids)
    if not ids:
        return {}
    rows = session.connection().execute(_FACTS, {"ids": list(ids)}).fetchall()
    facts = {}
    for row in rows:
        cid, ctype, state, owner_id, assignee, region, ks_owner, ks_title, title, unit, due, to = (
            row[:12]
        )
        ks_id, target = row[12], row[13]
        facts[cid] = CaseFacts(
            cid,
            ctype,
            state,
            owner_id,
            assignee,
            region,
            ks_owner if ctype != CaseType.KNOWLEDGE_SUPPORT else owner_id,
            ks_title or title or "",
            unit,
            due,
            to,
            ks_id if ctype != CaseType.KNOWLEDGE_SUPPORT else cid,
            target,
        )
    return facts


@functools.cache
def _acting_roles(case_type: str, state: str, region_owned: bool) -> frozenset[str]:
    """Roles that, held over the case's own unit, let someone fire a manual trigger now.

    A region-scoped grant counts when the region is the case's own unit (a consultation
    response, say); on a local case it is the tier above, reached only by escalation.
    """
    machine = MACHINES[case_type]
    roles: set[str] = set()
    for name in machine.triggers_from(state):
        for grant in machine.triggers[name].grants:
            if grant.scope == Scope.CASE or (region_owned and grant.scope == Scope.REGION):
                roles.add(grant.role)
    return frozenset(roles)


@functools.cache
def _recipient_roles(case_type: str, state: str) -> frozenset[str]:
    """Roles that, held over the unit the case reports to, let someone fire a trigger now."""
    machine = MACHINES[case_type]
    return frozenset(
        grant.role
        for name in machine.triggers_from(state)
        for grant in machine.triggers[name].grants
        if grant.scope == Scope.RECIPIENT
    )


def actors(session: Session, facts: Sequence[CaseFacts]) -> dict[int, set[int]]:
    """case id -> ids of the active users who can act on it now (one query for all cases)."""
    units = {u for f in facts for u in (f.owner_id, f.assignee_id, f.recipient_id) if u is not None}
    acting = {f.id: _acting_roles(f.type, f.state, f.owner_id == f.region_id) for f in facts}
    receiving = {f.id: _recipient_roles(f.type, f.state) for f in facts}
    roles = set().union(*acting.values(), *receiving.values()) if acting else set()
    reach: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    if units and roles:
        values = {"units": list(sorted(units)), "roles": list(sorted(roles))}
        rows = session.connection().execute(_REACH, values).fetchall()
        for unit_id, user_id, role, held_in, kind in rows:
            # A role held in a region reaches a group shared by a healthcare region's regions
            # (its closure rows): that region's people are another organisation's.
            reach[unit_id].append((user_id, role, held_in if kind == UnitKind.REGION else None))
    result: dict[int, set[int]] = {}
    for f in facts:
        wanted = acting[f.id]
        people: set[int] = set()
        for place in (f.owner_id, f.assignee_id):
            if place is not None:
                people |= {
                    user
                    for user, role, region in reach[place]
                    if role in wanted and (region is None or f.region_id in (None, region))
                }
        if f.recipient_id is not None:
            wanted = receiving[f.id]
            people |= {user for user, role, _ in reach[f.recipient_id] if role in wanted}
        result[f.id] = people
    return result


def holders(session: Session, unit_ids: Iterable[int], role: str) -> dict[int, set[int]]:
    """unit id -> active users holding ``role`` in exactly that unit."""
    ids = {u for u in unit_ids if u is not None}
    found: dict[int, set[int]] = defaultdict(set)
    if ids:
        values = {"units": list(sorted(ids)), "role": role}
        for unit_id, user_id in session.connection().execute(_HOLDERS, values).fetchall():
            found[unit_id].add(user_id)
    return found


class Person(NamedTuple):
    """Whom a mail goes to."""

    id: int
    email: str
    name: str


def users_by_id(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.connection().execute(_USERS, {"ids": list(wanted)}).fetchall()
    return {row[0]: Person(*row) for row in rows}


def deviation(
    session: Session,
    settings: Settings,
    case_id: int,
    actor_label: str,
    comment: str,
    cause_key: str,
) -> int:
    """Tell the region's process leads that a local unit reported a deviation."""
    facts = load_facts(session, [case_id])[case_id]
    leads = holders(session, [facts.region_id] if facts.region_id else [], Role.PROCESS_LEAD)
    people = users_by_id(session, leads.get(facts.region_id or 0, set()))
    mails = [
        Mail(
            key=f"deviation:{cause_key}:{user.id}",
            to_addr=user.email,
            template="deviation",
            context={
                "name": user.name,
                "actor": actor_label,
                "comment": comment,
                "item": facts.item(settings),
            },
        )
        for user in people.values()
    ]
    return enqueue(session, settings, mails)
