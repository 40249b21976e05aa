"""The pieces every entry point (web, CLI, scheduler) shares: settings, engine, sessions."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from kflow.config import ConfigError, Settings, load_settings
from kflow.db import make_engine, make_sessionmaker

_UNIT = "kflow_unit"


@dataclasses.dataclass
class Runtime:
    """Settings, the engine and units of work on it.

    A unit of work (``begin`` … ``commit``/``end``) is a transaction begun on a connection, and a
    session bound to that connection that joins the transaction only when the ORM is used
    (``join_transaction_mode="rollback_only"``: the session's own commit never commits it).
    A trigger fired by id runs its statements on the connection (kflow.statements), so a click
    never builds the session's transaction bookkeeping, which costs as much as the click's own
    UPDATE (docs/benchmarks.md). ``commit`` flushes what the session holds, then commits the
    connection; ``end`` rolls back whatever was not committed and gives the connection back.

    Tests pass sessions bound to a connection of their own (rolled back after the test): a unit
    is then a SAVEPOINT on it, the same path otherwise.
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def create(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or load_settings()
        url = settings.resolved_database_url
        _check_database_url(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        return cls(settings, engine, make_sessionmaker(engine))

    def begin(self, write: bool = True) -> Session:
        """A unit of work, given back with ``end``. A writer takes the write lock up front
        (BEGIN IMMEDIATE on SQLite), a reader never does."""
        given = self.sessions.kw.get("bind")
        if isinstance(given, Connection):
            connection, owned = given, False
            transaction: Any = connection.begin_nested()
        else:
            connection, owned = self.engine.connect(), True
            try:
                if connection.dialect.name == "sqlite":
                    connection.execution_options(kflow_begin="IMMEDIATE" if write else "DEFERRED")
                transaction = connection.begin()
            except BaseException:
                connection.close()
                raise
        session = Session(
            bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
        )
        session.info[_UNIT] = (connection, transaction, owned)
        return session

    def commit(self, session: Session) -> None:
        """Commit the unit: what the session holds is flushed first."""
        _connection, transaction, _owned = session.info[_UNIT]
        if session.in_transaction():
            session.commit()  # flushes; the connection's transaction is committed below
        if transaction.is_active:  # (after a rollback the session committed its own)
            transaction.commit()

    def rollback(self, session: Session) -> None:
        """Undo the unit so far and go on in a new transaction on the same connection."""
        connection, transaction, owned = session.info[_UNIT]
        session.rollback()
        if transaction.is_active:
            transaction.rollback()
        again = connection.begin() if owned else connection.begin_nested()
        session.info[_UNIT] = (connection, again, owned)

    def end(self, session: Session) -> None:
        """Close the unit: what was not committed is rolled back."""
        connection, transaction, owned = session.info.get(_UNIT, (None, None, False))
        try:
            session.close()
            if transaction is not None and transaction.is_active:
                transaction.rollback()
        finally:
            if owned:
                connection.close()

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.begin(write)
        try:
            yield session
            self.commit(session)
        finally:
            self.end(session)


def _check_database_url(url: str) -> None:
    """A clear ConfigError for a URL kflow cannot use (without repeating it: it may hold a
    password)."""
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        reason = str(exc).replace(url, "…").splitlines()[0] if str(exc) else type(exc).__name__
        message = f"Setting 'database_url' is not a database URL kflow can use: {reason}"
        raise ConfigError(message) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            "Setting 'database_url' must name an SQLite or PostgreSQL database "
            f"(not {parsed.get_backend_name()})."
        )


def settle_heap() -> None:
    """Call once a long-running process has started (a web worker, the scheduler).

    Everything allocated so far (modules, mappers, compiled statements, the calendar) lives as
    long as the process; moved out of the garbage collector's sight (``gc.freeze``), it is no
    longer scanned by every full collection, which otherwise pauses a request for tens of
    milliseconds now and then (the overview's p95 in docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
