"""Writing the append-only history: one row per move, singly or set-based for cascades."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, ColumnElement, Integer, String, Table, insert, literal, select, update
from sqlalchemy.orm import Session

from kflow.cases.events import CREATE_TRIGGER, CaseEvent
from kflow.cases.models import Case
from kflow.db import UTCDateTime
from kflow.engine.authority import Actor
from kflow.states.base import CaseMachine

EVENTS = cast(Table, CaseEvent.__table__)
CASES = cast(Table, Case.__table__)
EVENT_COLUMNS = (
    "case_id",
    "trigger",
    "from_state",
    "to_state",
    "actor_id",
    "actor",
    "role",
    "override",
    "at",
    "comment",
    "params",
)
RECORD = insert(EVENTS)


def event_values(
    case_id: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    role: str | None,
    at: dt.datetime,
    *,
    comment: str | None = None,
    params: dict[str, Any] | None = None,
    override: bool = False,
) -> dict[str, Any]:
    """One history row's values."""
    return {
        "case_id": case_id,
        "trigger": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor.user_id,
        "actor": actor.label,
        "role": role,
        "override": override,
        "at": at,
        "comment": comment,
        "params": params or None,
    }


def record_created(
    session: Session,
    case_ids: Sequence[int],
    state: str,
    actor: Actor,
    role: str | None,
    at: dt.datetime,
    params: dict[str, Any] | None,
) -> None:
    """One 'create' row for each case just inserted (one executemany)."""
    if case_ids:
        session.connection().execute(
            RECORD,
            [
                event_values(case_id, CREATE_TRIGGER, None, state, actor, role, at, params=params)
                for case_id in case_ids
            ],
        )


def cascade(
    session: Session,
    machine: CaseMachine,
    trigger: str,
    where: ColumnElement[bool],
    actor: Actor,
    at: dt.datetime,
    *,
    params: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> list[int]:
    """Fire ``trigger`` of ``machine`` on every case of its type matching ``where``, set-based.

    Only cases in one of the trigger's source states move, and each gets a history row that
    records the state it actually left. The cases are locked, moved and recorded in one step:

    * PostgreSQL: one statement per move, ``WITH locked AS (SELECT ... FOR UPDATE), moved AS
      (UPDATE ... FROM locked RETURNING id, the locked state) INSERT INTO case_events ...
      SELECT ... FROM moved``. Under READ COMMITTED a trigger on a child case may commit while
      the cascade runs; ``FOR UPDATE`` waits for it and then sees the row as it committed
      (re-checking the source states), so the history is written from what moved, never from
      an earlier read. Each case's rows get their ids while its row lock is held, so a case's
      history ids follow the order its moves committed.
    * SQLite: a writer holds the database's write lock from its first write to its commit, and
      a transaction that read before another writer committed cannot write at all (WAL
      snapshots). So reading the states for the history and moving the cases, two statements
      in one transaction, see the same rows.
    """
    spec = machine.triggers[trigger]
    connection = session.connection()
    moved: list[int] = []
    for m in spec.moves:
        assert m.dest is not None, "cascades move to a new state"
        matching = (CASES.c.type == machine.case_type) & where & CASES.c.state.in_(m.sources)
        changes = {
            "state": m.dest,
            "lock_version": CASES.c.lock_version + 1,
            "updated_at": at,
            **(values or {}),
        }
        row = _history_values(trigger, m.dest, actor, at, params)
        if connection.dialect.name == "postgresql":
            moved += connection.scalars(_in_one_statement(matching, changes, row)).all()
            continue
        history = select(CASES.c.id, *_row(row, CASES.c.state)).where(matching)
        connection.execute(insert(EVENTS).from_select(list(EVENT_COLUMNS), history))
        moved += connection.scalars(
            update(CASES).where(matching).values(changes).returning(CASES.c.id)
        ).all()
    return moved


def _history_values(
    trigger: str, dest: str, actor: Actor, at: dt.datetime, params: dict[str, Any] | None
) -> dict[str, ColumnElement[Any]]:
    """A cascade's history row but its case and from-state: the system's move, its cause."""
    return {
        "trigger": literal(trigger, String),
        "to_state": literal(dest, String),
        "actor_id": literal(actor.user_id, Integer),
        "actor": literal(actor.label, String),
        "role": literal(None, String),
        "override": literal(False),
        "at": literal(at, UTCDateTime()),
        "comment": literal(None, String),
        "params": literal(params, JSON) if params else literal(None, JSON),
    }


def _row(values: dict[str, ColumnElement[Any]], from_state: Any) -> list[Any]:
    return [from_state if name == "from_state" else values[name] for name in EVENT_COLUMNS[1:]]


def _in_one_statement(matching: Any, changes: dict[str, Any], row: dict[str, Any]) -> Any:
    locked = (
        select(CASES.c.id, CASES.c.state)
        .where(matching)
        .order_by(CASES.c.id)  # one order for every cascade: no deadlock between two of them
        .with_for_update()
        .cte("locked")
    )
    moving = (
        update(CASES)
        .where(CASES.c.id == locked.c.id)
        .values(changes)
        .returning(CASES.c.id.label("case_id"), locked.c.state.label("left"))
        .cte("moving")
    )
    return (
        insert(EVENTS)
        .from_select(list(EVENT_COLUMNS), select(moving.c.case_id, *_row(row, moving.c.left)))
        .returning(EVENTS.c.case_id)
    )
