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

from kflow.db import UTCDateTime
from kflow.hotpath import JsonValue, Prepared
from kflow.models import CREATE_TRIGGER, Case, CaseEvent, CaseRow
from kflow.services.authority import Actor
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

    Only cases in one of the trigger's source states move; each gets its history row. Two
    statements whatever the number of cases: INSERT ... SELECT for the history, then UPDATE.
    """
    spec = MACHINES[case_type].triggers[trigger]
    moved: list[int] = []
    for sources, dest in spec.moves:
        assert dest is not None, "cascades move to a new state"
        matching = (CASES.c.type == case_type) & where & CASES.c.state.in_(sources)
        history = select(
            CASES.c.id,
            literal(trigger, String),
            CASES.c.state,
            literal(dest, String),
            literal(actor.user_id, Integer),
            literal(actor.label, String),
            literal(None, String),
            literal(False),
            literal(at, UTCDateTime()),
            literal(None, String),
            literal(params, JSON) if params else literal(None, JSON),
        ).where(matching)
        session.execute(insert(EVENTS).from_select(list(EVENT_COLUMNS), history))
        moved += session.scalars(
            update(CASES)
            .where(matching)
            .values(
                state=dest,
                lock_version=CASES.c.lock_version + 1,
                updated_at=at,
                **(values or {}),
            )
            .returning(CASES.c.id)
        ).all()
    return moved
