"""Creating knowledge supports and firing triggers: the one way a case changes.

``fire`` runs the whole move inside the caller's transaction: checks (existence, lock version,
authority, state, parameters, guards), the state change on the shared machine, the history row,
and the effects. If anything fails, the caller rolls back and nothing is half-done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, bindparam, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from kflow.calendar import local_date
from kflow.cases.events import CREATE_TRIGGER
from kflow.cases.models import Case, CaseRow, KnowledgeSupport
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine import effects
from kflow.engine.authority import CLOSURE, MEMBERSHIPS, Authority
from kflow.engine.deadlines import due_for, due_values
from kflow.engine.history import CASES, EVENT_COLUMNS, EVENTS, RECORD, event_values, record
from kflow.engine.params import clean_comment, clean_params
from kflow.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from kflow.org.models import Unit
from kflow.org.roles import NATIONAL_KINDS
from kflow.statements import Prepared, reader
from kflow.states import MACHINES, InvalidMove
from kflow.states import knowledge_support as ks_states

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
CREATE_ROLES = ("chair", "process_lead")


C = TypeVar("C", Case, CaseRow)


@dataclasses.dataclass
class Fired(Generic[C]):
    case: C
    role: str | None
    params: dict[str, Any]
    outcome: dict[str, Any]


# The case and the actor's roles reaching its owner, assignee and region units, in one query.
_ROLE_UNIT = CLOSURE.c.descendant_id.label("kflow_role_unit")
_ROLE = MEMBERSHIPS.c.role.label("kflow_role")
_LOAD = Prepared(
    select(*CASES.c, _ROLE_UNIT, _ROLE)
    .select_from(
        CASES.outerjoin(
            CLOSURE.join(
                MEMBERSHIPS,
                and_(
                    MEMBERSHIPS.c.unit_id == CLOSURE.c.ancestor_id,
                    MEMBERSHIPS.c.user_id == bindparam("user_id"),
                ),
            ),
            CLOSURE.c.descendant_id.in_([CASES.c.owner_id, CASES.c.assignee_id, CASES.c.region_id]),
        )
    )
    .where(CASES.c.id == bindparam("case_id"))
)
_NAMES = [c.key for c in CASES.c]
_CONVERT = [(i, f) for i, f in enumerate(reader(list(CASES.c))) if f is not None]
# The one write of a trigger without effects: the new state and due date, guarded by version.
_MOVE = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"), CASES.c.lock_version == bindparam("old_version"))
    .values(
        state=bindparam("state"),
        lock_version=bindparam("new_version"),
        updated_at=bindparam("updated_at"),
        due=bindparam("due"),
        next_reminder_on=bindparam("next_reminder_on"),
    )
)
_UPDATE = Prepared(_MOVE)
# PostgreSQL: the move and its history row in one statement, one round trip. The INSERT takes
# its case id from the UPDATE's RETURNING, so it writes a row only if the guarded UPDATE did.
_MOVED = _MOVE.returning(CASES.c.id).cte("moved")
_MOVE_AND_RECORD = Prepared(
    insert(EVENTS).from_select(
        list(EVENT_COLUMNS),
        select(
            _MOVED.c.id,
            *(cast(bindparam(name), EVENTS.c[name].type) for name in EVENT_COLUMNS[1:]),
        ),
    )
)


def load_for_fire(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> CaseRow:
    """The case as a ``CaseRow``, with the actor's roles on it loaded into ``authority``."""
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise NotFound("Ärendet finns inte.")
    rows = _LOAD.execute(
        session, {"case_id": case_id, "user_id": authority.actor.user_id}
    ).fetchall()
    if not rows or (case_type is not None and rows[0][1] != case_type):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    values = list(rows[0][: len(_NAMES)])
    for i, convert in _CONVERT:
        values[i] = convert(values[i])
    case = CaseRow(dict(zip(_NAMES, values, strict=True)))
    reach: dict[int, set[str]] = {
        u: set() for u in (case.owner_id, case.assignee_id, case.region_id) if u is not None
    }
    for row in rows:
        if row[-1] is not None:
            reach[row[-2]].add(row[-1])
    authority.know_roles(reach)
    return case


def readable_row(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> CaseRow:
    """The case as a ``CaseRow`` if the actor may see it (else not_found), ready to fire."""
    row = load_for_fire(session, authority, case_id, case_type)
    if not authority.can_read(row, lambda: ks_owner_id(session, row)):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    return row


def fire_row(
    session: Session,
    authority: Authority,
    row: CaseRow,
    trigger: Any,
    **options: Any,
) -> Fired[Case] | Fired[CaseRow]:
    """``fire`` for a case read by ``readable_row``: as it is, unless the trigger sets fields
    on the case before it moves (then on the ORM object, read now)."""
    if isinstance(trigger, str) and (row.type, trigger) in effects.BEFORE:
        return fire(session, authority, get_case(session, row.id, row.type), trigger, **options)
    return fire(session, authority, row, trigger, **options)


def fire_id(
    session: Session,
    authority: Authority,
    case_id: Any,
    trigger: Any,
    *,
    case_type: str | None = None,
    **options: Any,
) -> Fired[Case] | Fired[CaseRow]:
    """Fire ``trigger`` on the case with ``case_id``, if the actor may see it (else not_found).

    The common case, a trigger without effects, is one read and one guarded write with its
    history row; see ``fire`` for ``options``.
    """
    row = readable_row(session, authority, case_id, case_type)
    return fire_row(session, authority, row, trigger, **options)


def as_case(session: Session, fired: Fired[Case] | Fired[CaseRow]) -> Case:
    """The fired case as an ORM object (read again after a lean move), for showing it."""
    if isinstance(fired.case, Case):
        return fired.case
    return get_case(session, fired.case.id, fired.case.type)


def get_case(session: Session, case_id: Any, case_type: str | None = None) -> Case:
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise NotFound("Ärendet finns inte.")
    case = session.get(Case, case_id)
    if case is None or (case_type is not None and case.type != case_type):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    return case


def readable_case(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> Case:
    """The case if the actor may see it; otherwise not_found (no hint that it exists)."""
    case = get_case(session, case_id, case_type)
    if not authority.can_read(case, lambda: ks_owner_id(session, case)):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    return case


def ks_owner_id(session: Session, case: Case | CaseRow) -> int | None:
    if case.knowledge_support_id is None:
        return case.owner_id if case.type == "knowledge_support" else None
    return session.scalar(select(Case.owner_id).where(Case.id == case.knowledge_support_id))


def create_knowledge_support(
    session: Session,
    authority: Authority,
    *,
    title: Any,
    kind: Any,
    owner: Any,
    description: Any = None,
    now: dt.datetime | None = None,
) -> KnowledgeSupport:
    """Create a knowledge support in ``need_identified``, by the owner's chair or process lead."""
    now = now or utcnow()
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("title krävs.")
    if len(title.strip()) > MAX_TITLE:
        raise ValidationError(f"title får vara högst {MAX_TITLE} tecken.")
    if not isinstance(kind, str) or kind not in ks_states.KINDS:
        raise ValidationError(f"kind måste vara en av: {', '.join(ks_states.KINDS)}.")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise ValidationError(f"description måste vara text på högst {MAX_DESCRIPTION} tecken.")
    if not isinstance(owner, str):
        raise ValidationError("owner måste vara en enhetskod.")
    unit = session.scalar(select(Unit).where(Unit.code == owner))
    if unit is None:
        raise ValidationError(f"owner: det finns ingen enhet med koden '{owner}'.")
    if unit.kind not in NATIONAL_KINDS:
        raise ValidationError("owner måste vara ett NPO, en NSG eller ett nationellt råd.")
    roles = authority.roles_at(unit.id)
    role = next((r for r in CREATE_ROLES if r in roles), None)
    if role is None:
        raise Forbidden(
            "Bara ordförande eller processledare i den ägande enheten kan skapa kunskapsstöd."
        )
    case = KnowledgeSupport(
        title=title.strip(),
        kind=kind,
        owner_id=unit.id,
        description=(description or "").strip() or None,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()  # generate case.id for the history row
    record(session, case, CREATE_TRIGGER, None, authority.actor, role, now)
    return case


def fire(
    session: Session,
    authority: Authority,
    case: C,
    trigger: Any,
    *,
    settings: Settings,
    comment: Any = None,
    params: Any = None,
    lock_version: Any = None,
    override: bool = False,
    now: dt.datetime | None = None,
) -> Fired[C]:
    """Fire ``trigger`` on ``case`` as ``authority.actor``.

    A trigger without effects (most of them) changes the case with one UPDATE guarded by its
    version and appends one history row: no unit of work is involved. A trigger with effects
    (fan-out, cascades, fields set before the move) runs on the ORM object and the effects.

    :param case: the ORM object, or a ``CaseRow`` from ``load_for_fire`` (effects need the former).
    :param lock_version: when given, the case must still be at this version (else 409 conflict).
    :param override: an admin firing outside their normal role; recorded as such in the history.
    :raises KflowError: forbidden, invalid_transition, conflict or validation_error.
    """
    now = now or utcnow()
    machine = MACHINES[case.type]
    if not isinstance(trigger, str) or trigger not in machine.triggers:
        known = ", ".join(machine.triggers)
        raise ValidationError(f"Okänd trigger {trigger!r} för {case.type} (finns: {known}).")
    spec = machine.triggers[trigger]
    if lock_version is not None:
        if not isinstance(lock_version, int) or isinstance(lock_version, bool):
            raise ValidationError("lock_version måste vara ett heltal.")
        if lock_version != case.lock_version:
            raise Conflict(
                "Någon annan har ändrat ärendet sedan du läste det. "
                "Läs in det på nytt och försök igen."
            )
    role = _authorize(authority, case, spec, override)
    if not machine.can_fire(case.state, trigger):
        raise InvalidTransition(
            f"'{trigger}' går inte från läget '{case.state}' ({case.state_label})."
        )
    today = local_date(now)
    cleaned_comment = clean_comment(spec, comment)
    cleaned = clean_params(session, spec, case, params, today)
    if spec.guard:
        effects.GUARDS[spec.guard](session, case)
    from_state = case.state
    history_role = role if not override else "admin"
    key = (case.type, trigger)
    if key not in effects.BEFORE:
        # The lean path: one guarded UPDATE with the history row, then any effects (set-based
        # statements that only read the moved case).
        event = event_values(
            case.id,
            trigger,
            from_state,
            machine.triggers[trigger].dest_from(from_state),
            authority.actor,
            history_role,
            now,
            comment=cleaned_comment,
            params=cleaned,
            override=override,
        )
        _move(session, case, machine, trigger, today, now, settings, event)
        after = effects.AFTER.get(key)
        if after is None:
            return Fired(case, role, cleaned, {})
        fx = effects.Effect(
            session,
            case,
            from_state,
            authority.actor,
            role,
            cleaned,
            now,
            settings,
            cleaned_comment,
        )
        try:
            after(fx)
        except IntegrityError:
            raise Conflict("Ärendet ändrades samtidigt av någon annan; försök igen.") from None
        _expire_others(session, case)
        return Fired(case, role, cleaned, fx.outcome)
    if not isinstance(case, Case):
        raise TypeError("a trigger that sets fields first needs the ORM case (use fire_id)")

    fx = effects.Effect(
        session, case, from_state, authority.actor, role, cleaned, now, settings, cleaned_comment
    )
    before = effects.BEFORE.get((case.type, trigger))
    try:
        # From the first change on, any flush (an autoflush when a lazy load fetches a
        # subclass column included) may find a concurrent change: 409, never a 500.
        if before:
            before(fx)
        try:
            machine.fire(case, trigger)
        except InvalidMove as exc:  # can_fire said yes; only a changed declaration gets here
            raise InvalidTransition(str(exc)) from None
        for column, value in _due_changes(case, case.state, today, settings).items():
            setattr(case, column, value)
        case.updated_at = now
        # Flush the case now: a concurrent change fails the version check here (409), before
        # the history row or the effects write anything.
        session.flush()
        record(
            session,
            case,
            trigger,
            from_state,
            authority.actor,
            history_role,
            now,
            comment=cleaned_comment,
            params=cleaned,
            override=override,
        )
        after = effects.AFTER.get((case.type, trigger))
        if after:
            after(fx)
            _expire_others(session, case)
    except StaleDataError:
        raise Conflict(
            "Någon annan ändrade ärendet samtidigt. Läs in det på nytt och försök igen."
        ) from None
    except IntegrityError:
        raise Conflict("Ärendet ändrades samtidigt av någon annan; försök igen.") from None
    return Fired(case, role, cleaned, fx.outcome)


class _Mover:
    """What the shared machine moves on the lean path: just a state."""

    def __init__(self, state: str) -> None:
        self.state = state


def _move(
    session: Session,
    case: Case | CaseRow,
    machine: Any,
    trigger: str,
    today: dt.date,
    now: dt.datetime,
    settings: Settings,
    event: dict[str, Any],
) -> None:
    """The lean path's write: one UPDATE guarded by the version the case was read at, and the
    history row (``event``); one statement on PostgreSQL."""
    mover = _Mover(case.state)
    try:
        machine.fire(mover, trigger)
    except InvalidMove as exc:  # can_fire said yes; only a changed declaration gets here
        raise InvalidTransition(str(exc)) from None
    old_version = case.lock_version
    values: dict[str, Any] = {
        "state": mover.state,
        "lock_version": old_version + 1,
        "updated_at": now,
        **_due_changes(case, mover.state, today, settings),
    }
    if event["to_state"] != mover.state:  # the machine and the declaration disagree
        raise InvalidTransition(f"'{trigger}' leder inte till '{event['to_state']}'.")
    move = {
        "case_id": case.id,
        "old_version": old_version,
        "new_version": old_version + 1,
        "state": values["state"],
        "updated_at": now,
        "due": values["due"],
        "next_reminder_on": values["next_reminder_on"],
    }
    if session.get_bind().dialect.name == "postgresql":
        written = _MOVE_AND_RECORD.execute(session, {**move, **event}).rowcount
    else:
        written = _UPDATE.execute(session, move).rowcount
        if written == 1:
            RECORD.execute(session, event)
    if written != 1:
        raise Conflict("Någon annan ändrade ärendet samtidigt. Läs in det på nytt och försök igen.")
    if isinstance(case, Case):
        # The object now shows the row as written, with nothing left for the ORM to flush.
        for column, value in values.items():
            set_committed_value(case, column, value)
    else:
        case.__dict__.update(values)
        if session.identity_map:  # an ORM copy read earlier in this transaction is stale now
            held = session.identity_map.get(Session.identity_key(Case, case.id))
            if held is not None:
                session.expire(held)


def _authorize(authority: Authority, case: Case | CaseRow, spec: Any, override: bool) -> str | None:
    if authority.actor.is_system:
        if not spec.auto:
            raise Forbidden(f"'{spec.name}' avfyras av en person, inte av systemet.")
        return None
    if override:
        if not authority.is_admin_for(case):
            raise Forbidden("Bara en administratör med ansvar för ärendet kan göra undantag.")
        return "admin"
    role: str | None = authority.role_for(case, spec)
    if role is None:
        if not spec.manual:
            raise Forbidden(
                f"'{spec.name}' sker automatiskt; en administratör kan bara göra det som undantag."
            )
        roles = ", ".join(sorted({g.role for g in spec.grants}))
        raise Forbidden(f"Du saknar behörighet att göra '{spec.name}' här (kräver: {roles}).")
    return role


def _due_changes(
    case: Case | CaseRow, state: str, today: dt.date, settings: Settings
) -> dict[str, Any]:
    """``due`` and ``next_reminder_on`` for ``case`` entering ``state`` (unchanged if kept)."""
    is_open = state not in MACHINES[case.type].final
    due = due_for(
        case.type,
        state,
        today,
        settings,
        previous_due=case.due,
        consultation_deadline=getattr(case, "consultation_deadline", None),
        target_date=getattr(case, "target_date", None),
        next_review_due=getattr(case, "next_review_due", None),
    )
    if due == case.due and is_open:
        return {"due": case.due, "next_reminder_on": case.next_reminder_on}
    return due_values(due if is_open else None, settings)


def _expire_others(session: Session, moved: Case | CaseRow) -> None:
    """Set-based effects bypass the identity map; reload any other case held in this session."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Case) and obj is not moved:
            session.expire(obj)
