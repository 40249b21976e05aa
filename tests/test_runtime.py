"""Runtime's transactions: commit on success, roll back on failure, readers never take SQLite's
write lock. Every test runs on SQLite and PostgreSQL (``committed_runtime``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.org.models import Unit
from kflow.runtime import Runtime


def dbapi_of(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def unit_count(rt: Runtime) -> int:
    with rt.transaction(write=False) as session:
        return unit_count_now(session)


def rename_first_unit(session: Session, name: str) -> None:
    unit = session.scalars(select(Unit).order_by(Unit.id).limit(1)).one()
    unit.name = name


def unit_count_now(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Unit)) or 0)


def first_unit_name(rt: Runtime) -> str:
    with rt.transaction(write=False) as session:
        return str(session.scalar(select(Unit.name).order_by(Unit.id).limit(1)))


def test_commit_and_rollback(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    before = first_unit_name(rt)
    with pytest.raises(RuntimeError), rt.transaction() as session:
        rename_first_unit(session, "Rullas tillbaka")
        session.flush()
        raise RuntimeError("the request failed")
    assert first_unit_name(rt) == before
    with rt.transaction() as session:
        rename_first_unit(session, "Sparad")
    assert first_unit_name(rt) == "Sparad"
    # Nothing of the failed transaction lingers in the session for the next one.
    with rt.transaction(write=False) as session:
        assert not session.new and not session.dirty and len(session.identity_map) == 0


@pytest.mark.only_on("sqlite")  # BEGIN IMMEDIATE and DEFERRED: PostgreSQL has no write lock
def test_a_reader_after_a_writer_does_not_take_the_write_lock(
    committed_runtime: Runtime,
) -> None:
    rt = committed_runtime
    with rt.transaction() as session:
        rename_first_unit(session, "Skrivare")
    path = rt.settings.resolved_database_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with rt.transaction(write=False) as session:
            session.execute(select(Unit.id).limit(1)).all()
            other.execute("BEGIN IMMEDIATE")  # would fail with "database is locked"
            other.execute("ROLLBACK")
        # ...and a writer takes it again.
        with rt.transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
