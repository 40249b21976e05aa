"""Statements on the hot path, compiled once per dialect and run on the DBAPI cursor.

A click (one trigger fired) is three statements. Through the ORM each costs several hundred
microseconds of Python (identity map, unit of work, per-execution cache keys and result
wrapping), ten times what the database spends on it; see docs/benchmarks.md. ``Prepared``
keeps SQLAlchemy for what it is good at, writing the statement in each dialect's SQL, and
then runs the compiled text straight on the connection the session already holds, inside the
session's transaction. It converts parameters and results for the few column types the hot
path uses (integers, text, booleans, dates, UTC datetimes, JSON) exactly as the column types
in kflow.db do, so rows written here read back identically through the ORM.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from operator import add
from typing import Any, cast

from sqlalchemy import Boolean, ColumnElement, Dialect, bindparam, exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


class JsonValue:
    """A value for a JSON column; None becomes JSON null, as SQLAlchemy's JSON type stores it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_PLAIN = (int, str, float, type(None))


def _sqlite_datetime_text(value: dt.datetime) -> str:
    if value.tzinfo is not dt.UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_json_text(value: JsonValue) -> str:
    return "null" if value.value is None else json.dumps(value.value)


# By exact type: one look-up for the values the hot path binds. A subclass (a bool is an int)
# goes through _sqlite_value's checks.
_SQLITE_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _sqlite_datetime_text,
    dt.date: dt.date.isoformat,
    bool: int,
    JsonValue: _sqlite_json_text,
}


def _sqlite_value(value: Any) -> Any:
    # The same text SQLAlchemy's SQLite DATE and DATETIME types store (naive UTC for the latter).
    convert = _SQLITE_BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dt.datetime):
        return _sqlite_datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, JsonValue):
        return _sqlite_json_text(value)
    if isinstance(value, ListValue):
        return json.dumps(value.values)
    return value


def _postgresql_value(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, ListValue):
        return value.values
    if isinstance(value, JsonValue):
        from psycopg.types.json import Json

        return Json(value.value)
    return value


def sqlite_date(value: Any) -> dt.date | None:
    """A DATE column as the SQLite DBAPI returns it (text) or PostgreSQL's (a date)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def sqlite_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# Session.info key: the connection whose transaction the session joins on first use
# (kflow.runtime.HeldSession). Statements run there without starting the session's own.
OUTER_CONNECTION = "kflow_outer_connection"


def _dbapi(bind: Session | Connection) -> tuple[Connection, Any]:
    """The connection and DBAPI connection of ``bind``'s current transaction (begun if need be).

    A session remembers them for its current transaction: asking the session for its
    connection on each statement costs more than running the statement.
    """
    if isinstance(bind, Connection):
        return bind, bind.connection.dbapi_connection
    transaction = bind.get_transaction()
    if transaction is None:
        outer: Connection | None = bind.info.get(OUTER_CONNECTION)
        if outer is not None and outer.in_transaction():
            return outer, outer.connection.dbapi_connection
    cached = bind.info.get("kflow_dbapi")
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection = bind.connection()
    found = (connection, connection.connection.dbapi_connection)
    bind.info["kflow_dbapi"] = (bind.get_transaction(), *found)
    return found


def _failed(connection: Connection, error: Exception, sql: str, args: Any) -> Exception:
    """A DBAPI error as SQLAlchemy raises it (so callers and the request retry see the same
    exceptions either way), with a dropped connection invalidated as SQLAlchemy would: that
    connection is discarded and the pool starts afresh, since its others died with it."""
    dialect = connection.dialect
    dbapi: Any = dialect.loaded_dbapi
    disconnected = bool(dialect.is_disconnect(cast(Any, error), connection.connection, None))
    if disconnected:
        connection.invalidate(error)
        connection.engine.dispose(close=False)
    return exc.DBAPIError.instance(
        sql, args, error, dbapi.Error, connection_invalidated=disconnected, dialect=dialect
    )


class Prepared:
    """One statement, compiled on first use for each dialect; parameters by name.

    ``statement`` may be a mapping of dialect name to statement, for a statement written with
    a dialect's own constructs (INSERT ... ON CONFLICT, say).
    """

    def __init__(self, statement: ClauseElement | Mapping[str, ClauseElement]) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = (
                self.statement[dialect.name]
                if isinstance(self.statement, Mapping)
                else self.statement
            )
            compiled: Any = statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            # Values bound in the statement itself (literal(), say) go with every execution.
            fixed = {
                name: bind.effective_value
                for bind, name in compiled.bind_names.items()
                if not bind.required
            }
            found = self._compiled[dialect.name] = (str(compiled), order, fixed)
        return found

    def execute(self, bind: Session | Connection, params: Mapping[str, Any]) -> Any:
        """Run on ``bind``'s connection, in its transaction; returns the DBAPI cursor."""
        connection, dbapi_connection = _dbapi(bind)
        dialect = connection.dialect
        sql, order, fixed = self._compile(dialect)
        convert = _sqlite_value if dialect.name == "sqlite" else _postgresql_value
        args = _arguments(convert, order, {**fixed, **params} if fixed else params)
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(sql, args)
        except dialect.loaded_dbapi.Error as error:
            raise _failed(connection, error, sql, args) from error
        return cursor

    def executemany(self, bind: Session | Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run once per row of parameters (the DBAPI's executemany); the rows it changed."""
        if not rows:
            return 0
        connection, dbapi_connection = _dbapi(bind)
        dialect = connection.dialect
        sql, order, fixed = self._compile(dialect)
        if fixed:
            rows = [{**fixed, **row} for row in rows]
        convert = _sqlite_value if dialect.name == "sqlite" else _postgresql_value
        args = _rows(convert, order, rows)
        try:
            cursor = dbapi_connection.cursor()
            cursor.executemany(sql, args)
        except dialect.loaded_dbapi.Error as error:
            raise _failed(connection, error, sql, args) from error
        return int(cursor.rowcount)


def _rows(
    convert: Callable[[Any], Any],
    order: tuple[str, ...] | None,
    rows: Sequence[Mapping[str, Any]],
) -> list[Any]:
    """Every row's arguments; the rows of one call share their times and JSON values, so each
    distinct object is converted once."""
    memo: dict[int, Any] = {}
    plain = _PLAIN

    def converted(value: Any) -> Any:
        if type(value) in plain:
            return value
        key = id(value.value) if isinstance(value, JsonValue) else id(value)
        found = memo.get(key, memo)
        if found is memo:
            found = memo[key] = convert(value)
        return found

    if order is not None:
        return [tuple([converted(row[name]) for name in order]) for row in rows]
    return [{k: converted(v) for k, v in row.items()} for row in rows]


def _arguments(
    convert: Callable[[Any], Any], order: tuple[str, ...] | None, params: Mapping[str, Any]
) -> Sequence[Any] | Mapping[str, Any]:
    plain = _PLAIN  # most values are plain: no call for them
    if order is not None:
        values = [params[name] for name in order]
        return tuple([v if type(v) in plain else convert(v) for v in values])
    return {k: v if type(v) in plain else convert(v) for k, v in params.items()}


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _boolean(value: Any) -> bool | None:
    return None if value is None else bool(value)


def reader(columns: Sequence[Any]) -> list[Any]:
    """One converter per column (None: as is), from the column types, for rows read raw."""
    from sqlalchemy import JSON, Boolean, Date

    from kflow.db import UTCDateTime

    converters: list[Any] = []
    for column in columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            converters.append(sqlite_datetime)
        elif isinstance(kind, Date):
            converters.append(sqlite_date)
        elif isinstance(kind, JSON):
            converters.append(_json_value)
        elif isinstance(kind, Boolean):
            converters.append(_boolean)
        else:
            converters.append(None)
    return converters


# A whole column at once (``rows_of``). SQLite's text times parse in C, without a Python call
# per value; anything else (NULLs, PostgreSQL's own values) goes value by value.
_UTC_SUFFIX = "+00:00"


def _datetimes(values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(dt.datetime.fromisoformat, map(add, values, repeat(_UTC_SUFFIX))))
    except (TypeError, ValueError):
        return [sqlite_datetime(value) for value in values]


def _dates(values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(dt.date.fromisoformat, values))
    except TypeError:
        return [sqlite_date(value) for value in values]


_scan_json = cast(Any, json.JSONDecoder()).scan_once  # json.loads without its Python wrapper


def _json_text(text: str) -> Any:
    """``json.loads(text)`` for the compact JSON kflow stores, at a third of the cost."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)  # else: let json say what is wrong


def _json_values(values: Sequence[Any]) -> list[Any]:
    return [_json_text(value) if type(value) is str else value for value in values]


def _booleans(values: Sequence[Any]) -> list[Any]:
    return [None if value is None else bool(value) for value in values]


_COLUMN_WISE: dict[Any, Callable[[Sequence[Any]], list[Any]]] = {
    sqlite_datetime: _datetimes,
    sqlite_date: _dates,
    _json_value: _json_values,
    _boolean: _booleans,
}


def rows_of(
    cursor: Any, converters: Sequence[Any], make: Callable[[Any], Any] = tuple
) -> list[Any]:
    """A cursor's rows with each column converted (see ``reader``), each made by ``make`` from
    its values (a tuple unless told otherwise; a named tuple's ``_make``, say)."""
    raw = cursor.fetchall()
    if not raw:
        return []
    columns: list[Any] = list(zip(*raw, strict=True))
    for i, convert in enumerate(converters):
        if convert is not None:
            many = _COLUMN_WISE.get(convert)
            columns[i] = many(columns[i]) if many else list(map(convert, columns[i]))
    return list(map(make, zip(*columns, strict=True)))


class ListValue:
    """A list bound as one parameter, for ``in_list``: JSON text on SQLite, an array on
    PostgreSQL. One statement text serves any number of values."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = list(values)


class InList(ColumnElement[bool]):
    """``column IN (the values of one list parameter)``; see ``ListValue``."""

    inherit_cache = False
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" after it where booleans are ints

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def in_list(column: ColumnElement[Any], name: str) -> InList:
    return InList(column, name)


@compiles(InList)
def _in_list_default(element: InList, compiler: Any, **kw: Any) -> str:  # str(), for reading
    column = compiler.process(element.column, **kw)
    return f"{column} IN ({compiler.process(bindparam(element.name), **kw)})"


@compiles(InList, "sqlite")
def _in_list_sqlite(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(bindparam(element.name), **kw)
    return f"{column} IN (SELECT value FROM json_each({value}))"  # noqa: S608 (compiled SQL)


@compiles(InList, "postgresql")
def _in_list_postgresql(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(bindparam(element.name), **kw)
    return f"{column} = ANY({value})"
