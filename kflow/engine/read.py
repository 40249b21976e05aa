"""Reading one case: by id, as the actor may see it, and for firing a trigger on it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached

from kflow.cases.models import CASE_CLASSES, Case
from kflow.engine.authority import CLOSURE, MEMBERSHIPS, Authority
from kflow.errors import NotFound
from kflow.statements import Statement
from kflow.states.base import CaseType

CASES = cast(Table, Case.__table__)
# The case and, in the same query, the roles the actor holds above its owner, assignee, region
# and recipient units (so checking the actor's authority costs nothing more).
_WITH_ROLES = Statement(
    select(*CASES.c, CLOSURE.c.descendant_id, MEMBERSHIPS.c.role)
    .select_from(
        CASES.outerjoin(
            CLOSURE.join(
                MEMBERSHIPS,
                and_(
                    MEMBERSHIPS.c.unit_id == CLOSURE.c.ancestor_id,
                    MEMBERSHIPS.c.user_id == bindparam("user_id"),
                ),
            ),
            CLOSURE.c.descendant_id.in_(
                [CASES.c.owner_id, CASES.c.assignee_id, CASES.c.region_id, CASES.c.recipient_id]
            ),
        )
    )
    .where(CASES.c.id == bindparam("case_id"))
)
_NAMES = [column.key for column in CASES.c]


def _case_of(session: Session, values: dict[str, Any]) -> Case:
    """The case these column values are, as its mapped class: the session's own copy if it
    holds one, else a detached instance carrying exactly these values (no second read)."""
    cls = CASE_CLASSES[values["type"]]
    held = session.identity_map.get(Session.identity_key(cls, values["id"]))
    if held is not None:
        return cast(Case, held)
    case = cast(Case, cls.__mapper__.class_manager.new_instance())
    case.__dict__.update({key: values[key] for key in _KEYS[cls]})
    make_transient_to_detached(case)
    return case


_KEYS = {cls: [a.key for a in cls.__mapper__.column_attrs] for cls in CASE_CLASSES.values()}


def _not_found(case_id: Any) -> NotFound:
    return NotFound(f"Det finns inget ärende {case_id} av den typen.")


def _check_id(case_id: Any) -> int:
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise NotFound("Ärendet finns inte.")
    return case_id


def get_case(session: Session, case_id: Any, case_type: str | None = None) -> Case:
    case = session.get(Case, _check_id(case_id))
    if case is None or (case_type is not None and case.type != case_type):
        raise _not_found(case_id)
    return case


def ks_owner_id(session: Session, case: Case) -> int | None:
    if case.knowledge_support_id is None:
        return case.owner_id if case.type == CaseType.KNOWLEDGE_SUPPORT else None
    return session.scalar(select(Case.owner_id).where(Case.id == case.knowledge_support_id))


def readable_case(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> Case:
    """The case if the actor may see it; otherwise not_found (no hint that it exists)."""
    case = get_case(session, case_id, case_type)
    if not authority.can_read(case, lambda: ks_owner_id(session, case)):
        raise _not_found(case_id)
    return case


def case_to_fire(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> Case:
    """The case with the actor's roles on it read in the same query, if the actor may see it.

    One statement on the transaction's connection (kflow.statements); the case comes back as
    its typed model (the one the session holds, if it holds it already)."""
    params = {"case_id": _check_id(case_id), "user_id": authority.actor.user_id}
    rows = _WITH_ROLES.rows(session, params)
    if not rows or (case_type is not None and rows[0][1] != case_type):
        raise _not_found(case_id)
    case = _case_of(session, dict(zip(_NAMES, rows[0], strict=False)))
    places = (case.owner_id, case.assignee_id, case.region_id, case.recipient_id)
    reach: dict[int, set[str]] = {u: set() for u in places if u is not None}
    for row in rows:
        if row[-1] is not None:
            reach[row[-2]].add(row[-1])
    authority.know_roles(reach)
    if not authority.can_read(case, lambda: ks_owner_id(session, case)):
        raise _not_found(case_id)
    return case
