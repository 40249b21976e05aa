"""Writing the append-only history, one row per trigger, singly or set-based for cascades."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from kflow.cases.events import CREATE_TRIGGER, CaseEvent
from kflow.cases.models import Case, CaseRow
from kflow.db import UTCDateTime
from kflow.engine.authority import Actor
from kflow.statements import JsonValue, Prepared
from kflow.states import MACHINES

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
RECORD = Prepared(EVENTS.insert().values({name: bindparam(name) for name in EVENT_COLUMNS}))


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
    """One history row's values, for ``record`` or a statement that writes it with the move."""
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
        "params": JsonValue(params or None),
    }


def record(
    session: Session,
    case: Case | CaseRow,
    trigger: str,
    from_state: str | None,
    actor: Actor,
    role: str | None,
    at: dt.datetime,
    *,
    comment: str | None = None,
    params: dict[str, Any] | None = None,
    override: bool = False,
) -> None:
    """Append one history row (a single prepared INSERT; the row is never loaded)."""
    RECORD.execute(
        session,
        event_values(
            case.id,
            trigger,
            from_state,
            case.state,
            actor,
            role,
            at,
            comment=comment,
            params=params,
            override=override,
        ),
    )


def record_created(
    session: Session,
    case_ids: Sequence[int],
    state: str,
    actor: Actor,
    role: str | None,
    at: dt.datetime,
    params: dict[str, Any] | None,
) -> None:
    """One 'create' row for each case a fan-out just inserted (one executemany)."""
    RECORD.executemany(
        session,
        [
            event_values(case_id, CREATE_TRIGGER, None, state, actor, role, at, params=params)
            for case_id in case_ids
        ],
    )


def cascade(
    session: Session,
    case_type: str,
    where: ColumnElement[bool],
    trigger: str,
    actor: Actor,
    at: dt.datetime,
    *,
    params: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> list[int]:
    """Fire ``trigger`` on every case of ``case_type`` matching ``where``, set-based.

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
    spec = MACHINES[case_type].triggers[trigger]
    moved: list[int] = []
    for sources, dest in spec.moves:
        assert dest is not None, "cascades move to a new state"
        matching = (CASES.c.type == case_type) & where & CASES.c.state.in_(sources)
        changes = {
            "state": dest,
            "lock_version": CASES.c.lock_version + 1,
            "updated_at": at,
            **(values or {}),
        }
        if session.get_bind().dialect.name == "postgresql":
            moved += _cascade_in_one_statement(
                session, matching, changes, trigger, dest, actor, at, params
            )
            continue
        history = select(
            CASES.c.id, *_history_values(trigger, CASES.c.state, dest, actor, at, params)
        ).where(matching)
        session.execute(insert(EVENTS).from_select(list(EVENT_COLUMNS), history))
        moved += session.scalars(
            update(CASES).where(matching).values(changes).returning(CASES.c.id)
        ).all()
    return moved


def _history_values(
    trigger: str,
    from_state: ColumnElement[Any],
    dest: str,
    actor: Actor,
    at: dt.datetime,
    params: dict[str, Any] | None,
) -> list[ColumnElement[Any]]:
    """A cascade's history row after its case id: the system's move, its cause in params."""
    return [
        literal(trigger, String),
        from_state,
        literal(dest, String),
        literal(actor.user_id, Integer),
        literal(actor.label, String),
        literal(None, String),
        literal(False),
        literal(at, UTCDateTime()),
        literal(None, String),
        literal(params, JSON) if params else literal(None, JSON),
    ]


def _cascade_in_one_statement(
    session: Session,
    matching: ColumnElement[bool],
    changes: dict[str, Any],
    trigger: str,
    dest: str,
    actor: Actor,
    at: dt.datetime,
    params: dict[str, Any] | None,
) -> list[int]:
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
    statement = (
        insert(EVENTS)
        .from_select(
            list(EVENT_COLUMNS),
            select(
                moving.c.case_id,
                *_history_values(trigger, moving.c.left, dest, actor, at, params),
            ),
        )
        .returning(EVENTS.c.case_id)
    )
    return list(session.scalars(statement))
