"""Statements a click runs: built and compiled once by SQLAlchemy, run on the transaction's
DBAPI connection.

Firing a trigger is three statements: read the case with the actor's roles on it, move it (an
UPDATE guarded by its version) and record the move. Run through ``Connection.execute`` each
costs about 70 µs of SQLAlchemy's per-execution work (execution context, parameter and result
set-up, events) on the benchmark machine, against about 25 µs for the database itself; three of
them more than doubled a click (docs/benchmarks.md, "Why a click runs prepared statements").

A ``Statement`` keeps everything SQLAlchemy does once: it writes the SQL for the dialect and
hands over each parameter's and result column's own type processors (``TypeEngine.bind_processor``
and ``result_processor`` of the dialect's implementation, so values are converted exactly as
anywhere else in kflow); it then runs on the DBAPI cursor of the connection the transaction is
on. A DBAPI error is raised as SQLAlchemy would raise it (``DBAPIError.instance``), a dropped
connection invalidated as SQLAlchemy would, so callers and the request retry see one kind of
error whichever way a statement ran. Everything else in kflow executes through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Dialect, exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any]


class _Compiled:
    """The SQL of one statement in one dialect, and how to convert its values."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        self.order = tuple(compiled.positiontup or ()) if self.positional else ()
        self.fixed: dict[str, Any] = {}
        self.binds: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:  # a value written into the statement (literal(), say)
                self.fixed[name] = bind.effective_value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds[name] = process
        columns = getattr(compiled, "_result_columns", None) or []
        self.results: list[tuple[int, Processor]] = []
        for index, column in enumerate(columns):
            process = column[3].dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                self.results.append((index, process))

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = {**self.fixed, **params} if self.fixed else dict(params)
        for name, process in self.binds.items():
            if name in values:
                values[name] = process(values[name])
        if self.positional:
            return tuple(values[name] for name in self.order)
        return values

    def row(self, raw: Sequence[Any]) -> list[Any]:
        row = list(raw)
        for index, process in self.results:
            row[index] = process(row[index])
        return row


class Statement:
    """One statement, compiled on first use for each dialect; parameters by name."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return found

    def execute(self, session: Session, params: Mapping[str, Any]) -> Any:
        """Run in the session's transaction; the DBAPI cursor (its rows unconverted)."""
        connection = connection_of(session)
        compiled = self._for(connection.dialect)
        args = compiled.arguments(params)
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(compiled.sql, args)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _failed(connection, error, compiled.sql, args) from error
        return cursor

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[list[Any]]:
        """Every row, each value converted by its column's type."""
        connection = connection_of(session)
        compiled = self._for(connection.dialect)
        return [compiled.row(raw) for raw in self.execute(session, params).fetchall()]

    def rowcount(self, session: Session, params: Mapping[str, Any]) -> int:
        return int(self.execute(session, params).rowcount)


def connection_of(session: Session) -> Connection:
    """The connection the session's unit of work is on (kflow.runtime), in its transaction;
    what the session holds unflushed is written first, as a query through it would."""
    bind = session.get_bind()
    if not isinstance(bind, Connection):  # a session of the engine: its own connection
        return session.connection()
    if session.new or session.identity_map:
        session.flush()
    return bind


def _failed(connection: Connection, error: Exception, sql: str, args: Any) -> Exception:
    """A DBAPI error as SQLAlchemy raises it, a dropped connection invalidated as it would be."""
    dialect = connection.dialect
    dbapi: Any = dialect.loaded_dbapi
    disconnected = bool(dialect.is_disconnect(cast(Any, error), connection.connection, None))
    if disconnected:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql, args, error, dbapi.Error, connection_invalidated=disconnected, dialect=dialect
    )
