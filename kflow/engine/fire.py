"""Firing a trigger: the one way any case changes, for the API, the UI, the command line, the
scheduler and the effects of other triggers alike.

``fire`` runs the whole move inside the caller's transaction: the checks (the trigger exists,
the lock version, the actor's authority, the state, the comment and parameters, the guard),
the move itself (the fields the trigger sets and the new due date, written by one UPDATE
guarded by the case's version, with its history row), then the trigger's declared effects. If
anything fails the caller rolls back, and nothing is half-done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

from sqlalchemy import bindparam, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kflow.cases.models import Case
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine import effects
from kflow.engine.authority import Authority
from kflow.engine.deadlines import due_changes
from kflow.engine.effects import Firing
from kflow.engine.history import CASES, EVENT_COLUMNS, EVENTS, RECORD, event_values
from kflow.engine.params import clean_comment, clean_params
from kflow.engine.read import case_to_fire
from kflow.errors import Conflict, Forbidden, InvalidTransition, ValidationError
from kflow.org.roles import Role
from kflow.statements import Statement, connection_of
from kflow.states import MACHINES
from kflow.states.base import CaseMachine, DueFacts, InvalidMove, Trigger

CHANGED = "Någon annan ändrade ärendet samtidigt. Läs in det på nytt och försök igen."


@dataclasses.dataclass
class Fired:
    case: Case
    role: str | None
    params: dict[str, Any]
    outcome: dict[str, Any]


def fire(
    session: Session,
    authority: Authority,
    case: Case | int,
    trigger: Any,
    *,
    settings: Settings,
    case_type: str | None = None,
    comment: Any = None,
    params: Any = None,
    lock_version: Any = None,
    override: bool = False,
    now: dt.datetime | None = None,
) -> Fired:
    """Fire ``trigger`` on ``case`` (the case, or its id: then only if the actor may see it)
    as ``authority.actor``.

    :param lock_version: when given, the case must still be at this version (else 409 conflict).
    :param override: an admin firing outside their normal role; recorded as such in the history.
    :raises KflowError: not_found, forbidden, invalid_transition, conflict or validation_error.
    """
    if not isinstance(case, Case):
        case = case_to_fire(session, authority, case, case_type)
    machine = MACHINES[case.type]
    spec = _spec(machine, trigger)
    _check_version(case, lock_version)
    role = _authorize(authority, case, spec, override)
    dest = _destination(machine, case, spec)
    firing = Firing(session, case, authority.actor, role, {}, None, now or utcnow(), settings)
    firing.comment = clean_comment(spec, comment)
    firing.params = clean_params(session, spec, case, params, firing.today)
    if spec.guard:
        spec.guard(firing)
    changes = _changes(machine, spec, firing, dest)
    _write(session, case, dest, changes, _event(firing, spec, dest, override))
    if spec.effects or spec.tells:
        try:
            effects.run(firing, spec)
        except IntegrityError:  # a concurrent fan-out got there first
            raise Conflict("Ärendet ändrades samtidigt av någon annan; försök igen.") from None
        _expire_others(session, case)
    return Fired(case, role, firing.params, firing.outcome)


def _changes(machine: CaseMachine, spec: Trigger, firing: Firing, dest: str) -> dict[str, Any]:
    """The columns the move writes: the fields the trigger sets, then the new due date (its
    rule may read those fields: a publication's review date, say)."""
    case = firing.case
    changes = spec.sets(firing) if spec.sets else {}
    facts = DueFacts(firing.today, firing.settings, _Proposed(case, changes), None, case.due)
    return changes | due_changes(machine, case, dest, facts)


def _event(firing: Firing, spec: Trigger, dest: str, override: bool) -> dict[str, Any]:
    """The move's history row (an admin's override recorded as such)."""
    return event_values(
        firing.case.id,
        spec.name,
        firing.case.state,
        dest,
        firing.actor,
        firing.role if not override else Role.ADMIN,
        firing.now,
        comment=firing.comment,
        params=firing.params,
        override=override,
    )


class _Proposed:
    """The case as the move will leave it: the fields it sets, else the case's own."""

    def __init__(self, case: Case, changes: dict[str, Any]) -> None:
        self._case = case
        self._changes = changes

    def __getattr__(self, name: str) -> Any:
        if name in self._changes:
            return self._changes[name]
        return getattr(self._case, name)


def _spec(machine: CaseMachine, trigger: Any) -> Trigger:
    if not isinstance(trigger, str) or trigger not in machine.triggers:
        known = ", ".join(machine.triggers)
        raise ValidationError(
            f"Okänd trigger {trigger!r} för {machine.case_type} (finns: {known})."
        )
    return machine.triggers[trigger]


def _check_version(case: Case, lock_version: Any) -> None:
    if lock_version is None:
        return
    if not isinstance(lock_version, int) or isinstance(lock_version, bool):
        raise ValidationError("lock_version måste vara ett heltal.")
    if lock_version != case.lock_version:
        raise Conflict(
            "Någon annan har ändrat ärendet sedan du läste det. Läs in det på nytt och försök igen."
        )


def _authorize(authority: Authority, case: Case, spec: Trigger, override: bool) -> str | None:
    if authority.actor.is_system:
        if not spec.auto:
            raise Forbidden(f"'{spec.name}' avfyras av en person, inte av systemet.")
        return None
    if override:
        if not authority.is_admin_for(case):
            raise Forbidden("Bara en administratör med ansvar för ärendet kan göra undantag.")
        return Role.ADMIN
    role = authority.role_for(case, spec)
    if role is None:
        if not spec.manual:
            raise Forbidden(
                f"'{spec.name}' sker automatiskt; en administratör kan bara göra det som undantag."
            )
        roles = ", ".join(sorted({g.role for g in spec.grants}))
        raise Forbidden(f"Du saknar behörighet att göra '{spec.name}' här (kräver: {roles}).")
    return role


def _destination(machine: CaseMachine, case: Case, spec: Trigger) -> str:
    if not machine.can_fire(case.state, spec.name):
        raise InvalidTransition(
            f"'{spec.name}' går inte från läget '{case.state}' ({case.state_label})."
        )
    try:
        return machine.destination(case.state, spec.name)
    except InvalidMove as exc:  # can_fire said yes; only a changed declaration gets here
        raise InvalidTransition(str(exc)) from None


def _write(
    session: Session, case: Case, dest: str, changes: dict[str, Any], event: dict[str, Any]
) -> None:
    """The move: one UPDATE guarded by the version the case was read at, and its history row
    (one statement on PostgreSQL). The case object then shows the row as written."""
    values = {"state": dest, "updated_at": event["at"], **changes}
    params = {**{f"new_{k}": v for k, v in values.items()}, "case_id": case.id}
    params |= {"old_version": case.lock_version, "new_version": case.lock_version + 1}
    columns = tuple(sorted(values))
    if connection_of(session).dialect.name == "postgresql":
        written = len(_move_and_record(columns).rows(session, {**params, **event}))
    else:
        written = _move(columns).rowcount(session, params)
        if written == 1:
            _RECORD.execute(session, event)
    if written != 1:
        raise Conflict(CHANGED)
    for column, value in {**values, "lock_version": case.lock_version + 1}.items():
        set_committed_value(case, column, value)


_RECORD = Statement(
    RECORD.values({name: bindparam(name, type_=EVENTS.c[name].type) for name in EVENT_COLUMNS})
)


@functools.cache
def _move(columns: tuple[str, ...]) -> Statement:
    """UPDATE cases SET the columns and a new version WHERE id and the old version match."""
    return Statement(_update(columns))


def _update(columns: tuple[str, ...]) -> Any:
    return (
        update(CASES)
        .where(CASES.c.id == bindparam("case_id"), CASES.c.lock_version == bindparam("old_version"))
        .values(
            lock_version=bindparam("new_version"),
            **{c: bindparam(f"new_{c}", type_=CASES.c[c].type) for c in columns},
        )
    )


@functools.cache
def _move_and_record(columns: tuple[str, ...]) -> Statement:
    """PostgreSQL: the move and its history row in one statement, one round trip; the INSERT
    takes its case id from the UPDATE's RETURNING, so it writes only if the UPDATE did."""
    moved = _update(columns).returning(CASES.c.id).cte("moved")
    row = [
        cast(bindparam(name, type_=EVENTS.c[name].type), EVENTS.c[name].type)
        for name in EVENT_COLUMNS[1:]
    ]
    return Statement(
        insert(EVENTS)
        .from_select(list(EVENT_COLUMNS), select(moved.c.id, *row))
        .returning(EVENTS.c.id)
    )


def _expire_others(session: Session, moved: Case) -> None:
    """Set-based effects bypass the identity map; reload any other case held in this session."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Case) and obj is not moved:
            session.expire(obj)
