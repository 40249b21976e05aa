"""Who may read and do what, typed straight from the contract, as an oracle for the access tests.

Written from lifecycle.md (§1 roles, §2 the "who" column and the from-states of every trigger)
and docs/api.md ("Who sees what", admin override), NOT from kflow.states or
kflow.engine.authority: if the code and this file disagree, one of them has drifted from the
contract. The organisation is read as raw data (each unit's parent, and which sjukvårdsregioner
a region belongs to), never through kflow's closure table or Authority.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

CASE, REGION, RECIPIENT = "case", "region", "recipient"
ROLES = ("admin", "chair", "process_lead", "coordinator", "local_lead", "member", "viewer")

# lifecycle.md §2: trigger -> (the roles that may fire it, where they must hold them), and the
# states it moves from. "case": the case's own unit or assignee unit, or above; "region": the
# case's region or above; "recipient": the unit a report goes to (§6.6), or above. A trigger
# with no roles is automatic only (the system's).
KS_ALL_BEFORE_PUBLISHED = (
    "need_identified",
    "commissioned",
    "drafting",
    "review",
    "consultation",
    "revising",
    "awaiting_approval",
)
RA_OPEN = (
    "received",
    "assessing",
    "on_hold",
    "awaiting_decision",
    "adopted",
    "not_adopted",
    "adapting",
    "implementing",
    "following_up",
)
LI_OPEN = ("assigned", "acknowledged", "implementing", "implemented", "following_up", "deviation")


def _g(*roles: str, scope: str = CASE) -> frozenset[tuple[str, str]]:
    return frozenset((role, scope) for role in roles)


TRIGGERS: dict[str, dict[str, tuple[frozenset[tuple[str, str]], tuple[str, ...]]]] = {
    "knowledge_support": {
        "commission": (_g("chair"), ("need_identified",)),
        "start_drafting": (_g("process_lead", "chair"), ("commissioned",)),
        "approve_for_review": (_g("chair"), ("drafting",)),
        "request_changes": (_g("chair"), ("review", "awaiting_approval")),
        "open_consultation": (_g("chair"), ("review",)),
        "close_consultation": (_g("process_lead", "chair"), ("consultation",)),
        "submit_for_approval": (_g("process_lead"), ("revising",)),
        "publish": (_g("chair"), ("awaiting_approval",)),
        "start_revision": (_g("process_lead", "chair"), ("published",)),
        "withdraw": (_g("chair"), ("published",)),
        "cancel": (_g("chair"), KS_ALL_BEFORE_PUBLISHED),
    },
    "consultation_response": {
        "start_response": (_g("coordinator", "process_lead"), ("requested",)),
        "submit": (_g("coordinator", "chair"), ("drafting",)),
        "decline": (_g("coordinator"), ("requested", "drafting")),
        "expire": (_g(), ("requested", "drafting")),
        "cancel": (_g(), ("requested", "drafting")),
    },
    "regional_adaptation": {
        "assign": (_g("coordinator"), ("received", "assessing")),
        "start_assessment": (_g("coordinator", "process_lead"), ("received",)),
        "put_on_hold": (_g("coordinator", "process_lead"), ("assessing",)),
        "resume": (_g("coordinator", "process_lead"), ("on_hold",)),
        "submit_for_decision": (_g("process_lead", "coordinator"), ("assessing",)),
        "adopt": (_g("chair"), ("awaiting_decision",)),
        "reject": (_g("chair"), ("awaiting_decision",)),
        "start_adaptation": (_g("process_lead", "coordinator"), ("adopted",)),
        "hand_off": (_g("coordinator", "process_lead"), ("adopted", "adapting")),
        "start_follow_up": (_g("process_lead"), ("implementing",)),
        "close": (_g("coordinator", "chair"), ("following_up",)),
        "reassess": (_g(), (*RA_OPEN, "closed")),
        "cancel": (_g(), RA_OPEN),
    },
    "local_implementation": {
        "acknowledge": (_g("local_lead", "member"), ("assigned",)),
        "start_implementation": (_g("local_lead"), ("acknowledged",)),
        "report_implemented": (_g("local_lead"), ("implementing",)),
        "start_follow_up": (_g("local_lead"), ("implemented",)),
        "report_deviation": (
            _g("local_lead", "member"),
            ("implementing", "implemented", "following_up"),
        ),
        "resolve_deviation": (
            _g("local_lead") | _g("process_lead", scope=REGION),
            ("deviation",),
        ),
        "close": (_g("process_lead", scope=REGION), ("following_up",)),
        "waive": (_g("process_lead", scope=REGION), ("assigned", "acknowledged")),
        "cancel": (_g(), LI_OPEN),
    },
    # §6.3 (close is also automatic on 1 February of the year after)
    "indicator_list": {
        "set_target": (_g("coordinator", "process_lead"), ("drafting",)),
        "remove_target": (_g("coordinator", "process_lead"), ("drafting",)),
        "submit": (_g("coordinator"), ("drafting",)),
        "request_changes": (_g("chair"), ("submitted",)),
        "approve": (_g("chair"), ("submitted",)),
        "revise": (_g("chair"), ("approved",)),
        "close": (_g("coordinator"), ("approved",)),
        "cancel": (_g("chair"), ("drafting", "submitted")),
    },
    # §6.6 (expire is the system's, 15 business days after the due date)
    "follow_up_report": {
        "submit": (_g("process_lead", "chair", "local_lead"), ("open",)),
        "accept": (_g("process_lead", "chair", scope=RECIPIENT), ("submitted",)),
        "return": (_g("process_lead", "chair", scope=RECIPIENT), ("submitted",)),
        "waive": (_g("chair", scope=RECIPIENT), ("open",)),
        "expire": (_g(), ("open",)),
        "submit_late": (_g("process_lead", "chair", "local_lead"), ("missed",)),
    },
}
# Min inkorg (issue 17): what each state waits for, as triggers; a case is
# in someone's inbox when one of these is theirs to fire. A published support (its revision), an
# adaptation on hold (resuming it) and a local implementation in follow-up (its next
# measurement) wait only once their due date is near; the matrix's due dates are all far off, so
# those states wait for nobody here.
WAITS: dict[str, dict[str, tuple[str, ...]]] = {
    "knowledge_support": {
        "need_identified": ("commission",),
        "commissioned": ("start_drafting",),
        "review": ("open_consultation", "request_changes"),
        "revising": ("submit_for_approval",),
        "awaiting_approval": ("publish", "request_changes"),
    },
    "consultation_response": {
        "requested": ("start_response", "decline"),
        "drafting": ("submit", "decline"),
    },
    "regional_adaptation": {
        "received": ("start_assessment", "assign"),
        "assessing": ("submit_for_decision",),
        "awaiting_decision": ("adopt", "reject"),
        "adopted": ("hand_off", "start_adaptation"),
        "adapting": ("hand_off",),
    },
    "local_implementation": {
        "assigned": ("acknowledge",),
        "acknowledged": ("start_implementation",),
        "implementing": ("report_implemented",),
        "deviation": ("resolve_deviation",),
    },
    "indicator_list": {"drafting": ("submit",), "submitted": ("approve", "request_changes")},
    "follow_up_report": {
        "open": ("submit",),
        "submitted": ("accept", "return"),
        "missed": ("submit_late",),
    },
}
# Beyond the machines (docs/lifecycle.md, follow-up): who defines indicators on a knowledge
# support and who reports a local unit's measurements, and in which states.
DEFINE_INDICATOR_ROLES = frozenset({"chair", "process_lead"})
REPORT_MEASUREMENT_ROLES = frozenset({"local_lead", "member", "process_lead"})  # §6.2
MEASURING_STATES = frozenset({"implemented", "following_up"})
# api.md: creating a knowledge support needs chair or process lead in the owner unit (or above).
CREATE_ROLES = frozenset({"chair", "process_lead"})
# lifecycle.md §6.3: an indikatorlista is created by the owner's coordinator or process lead.
CREATE_LIST_ROLES = frozenset({"coordinator", "process_lead"})
# api.md "Who sees what": everyone with a role in the region reads these (§6.3: the units
# below an indikatorlista read their targets).
REGION_WIDE = frozenset({"consultation_response", "regional_adaptation", "indicator_list"})


@dataclasses.dataclass(frozen=True)
class CaseFacts:
    id: int
    type: str
    state: str
    owner: int
    assignee: int | None
    region: int | None
    ks: int | None
    ks_owner: int | None
    recipient: int | None = None


class Organisation:
    """Units and who holds which role where, read as plain rows."""

    def __init__(self, session: Session) -> None:
        units = sa.table("units", sa.column("id"), sa.column("code"), sa.column("parent_id"))
        links = sa.table(
            "healthcare_region_members", sa.column("healthcare_region_id"), sa.column("region_id")
        )
        self.code = {i: c for i, c, _ in session.execute(sa.select(units))}
        self.id = {c: i for i, c in self.code.items()}
        self._up: dict[int, set[int]] = {i: set() for i in self.code}
        for unit_id, _, parent in session.execute(sa.select(units)):
            if parent is not None:
                self._up[unit_id].add(parent)
        for healthcare_region, region in session.execute(sa.select(links)):
            self._up[region].add(healthcare_region)
        self._above: dict[int, frozenset[int]] = {}

    def above(self, unit: int | None) -> frozenset[int]:
        """The unit and every unit above it (a region: both its sjukvårdsregioner too)."""
        if unit is None:
            return frozenset()
        if unit not in self._above:
            found = {unit}
            for parent in self._up[unit]:
                found |= self.above(parent)
            self._above[unit] = frozenset(found)
        return self._above[unit]

    def cases(self, session: Session) -> dict[int, CaseFacts]:
        cases = sa.table(
            "cases",
            *(
                sa.column(name)
                for name in (
                    "id",
                    "type",
                    "state",
                    "owner_id",
                    "assignee_id",
                    "region_id",
                    "knowledge_support_id",
                    "recipient_id",
                )
            ),
        )
        rows = list(session.execute(sa.select(cases)))
        owners = {r.id: r.owner_id for r in rows if r.type == "knowledge_support"}
        return {
            r.id: CaseFacts(
                r.id,
                r.type,
                r.state,
                r.owner_id,
                r.assignee_id,
                r.region_id,
                r.knowledge_support_id,
                owners[r.knowledge_support_id] if r.knowledge_support_id else None,
                r.recipient_id,
            )
            for r in rows
        }


@dataclasses.dataclass(frozen=True)
class Person:
    """A user as the contract sees them: (unit id, role) pairs."""

    name: str
    memberships: frozenset[tuple[int, str]]

    def roles_in(self, units: Iterable[int]) -> set[str]:
        wanted = set(units)
        return {role for unit, role in self.memberships if unit in wanted}

    @property
    def units(self) -> set[int]:
        return {unit for unit, _ in self.memberships}


class Contract:
    def __init__(self, org: Organisation) -> None:
        self.org = org

    def _case_units(self, case: CaseFacts) -> frozenset[int]:
        return self.org.above(case.owner) | self.org.above(case.assignee)

    def can_read(self, who: Person, case: CaseFacts) -> bool:
        """api.md "Who sees what" (and §6.6: a report is seen where it is sent)."""
        if case.type == "knowledge_support":
            return True
        reach = self._case_units(case) | self.org.above(case.region) | self.org.above(case.ks_owner)
        reach |= self.org.above(case.recipient)
        if who.roles_in(reach):
            return True
        if case.type in REGION_WIDE:
            # Everyone holding a role anywhere in the region (at the region or below it).
            return any(case.region in self.org.above(unit) for unit in who.units)
        return False

    def may_fire(self, who: Person, case: CaseFacts, trigger: str) -> bool:
        grants, _ = TRIGGERS[case.type][trigger]
        roles = {
            CASE: who.roles_in(self._case_units(case)),
            REGION: who.roles_in(self.org.above(case.region)),
            RECIPIENT: who.roles_in(self.org.above(case.recipient)),
        }
        return any(role in roles[scope] for role, scope in grants)

    def admin_for(self, who: Person, case: CaseFacts) -> bool:
        """An admin over the case (its units or region, or above) may override."""
        return "admin" in who.roles_in(self._case_units(case) | self.org.above(case.region))

    def fire(self, who: Person, case: CaseFacts, trigger: str, *, override: bool = False) -> int:
        """The status of firing ``trigger`` with an unknown parameter (which nothing accepts),
        so no request ever changes anything: 404, 403, 409 (not from this state) or 422."""
        if not self.can_read(who, case):
            return 404
        allowed = self.admin_for(who, case) if override else self.may_fire(who, case, trigger)
        if not allowed:
            return 403
        _, sources = TRIGGERS[case.type][trigger]
        return 409 if case.state not in sources else 422

    def allowed_now(self, who: Person, case: CaseFacts) -> set[str]:
        """The manual triggers ``who`` may fire from the case's state (``allowed_triggers``)."""
        return {
            trigger
            for trigger, (grants, sources) in TRIGGERS[case.type].items()
            if grants and case.state in sources and self.may_fire(who, case, trigger)
        }

    def waits_for(self, who: Person, case: CaseFacts) -> bool:
        """Whether the case waits for ``who`` now (Min inkorg): a trigger its state waits for
        is one ``who`` may fire."""
        awaited = WAITS.get(case.type, {}).get(case.state, ())
        return any(self.may_fire(who, case, trigger) for trigger in awaited)

    def may_define_indicators(self, who: Person, case: CaseFacts) -> bool:
        return bool(DEFINE_INDICATOR_ROLES & who.roles_in(self._case_units(case)))

    def may_report_measurements(self, who: Person, case: CaseFacts) -> bool:
        return bool(REPORT_MEASUREMENT_ROLES & who.roles_in(self._case_units(case)))

    def may_create_in(self, who: Person, owner: int) -> bool:
        return bool(CREATE_ROLES & who.roles_in(self.org.above(owner)))

    def may_create_list_in(self, who: Person, owner: int) -> bool:
        return bool(CREATE_LIST_ROLES & who.roles_in(self.org.above(owner)))

    def admin_covers(self, who: Person, unit: int) -> bool:
        """An admin in U administers U and every unit below it."""
        return "admin" in who.roles_in(self.org.above(unit))

    def admin_covers_person(self, who: Person, other: Person) -> bool:
        """...and a user all of whose roles lie there (a user with no roles: any admin)."""
        if not any(role == "admin" for _, role in who.memberships):
            return False
        return all(self.admin_covers(who, unit) for unit in other.units)
