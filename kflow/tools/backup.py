"""Backup and move: every kflow table to one file and back, on either engine (docs/backup.md).

The file is gzip-compressed JSON Lines, written and read as a stream:

* line 1, the header: ``{"kflow_backup": 2, "kflow_version", "alembic_revision", "exported_at",
  "source", "key_id", "tables": [{"name", "columns": [{"name", "type"}], "rows"}]}``, tables in
  foreign-key dependency order (parents first);
* one line per row, ``[table, [value, ...]]``, values in the header's column order, tables in the
  header's order and rows by primary key;
* the trailer: ``{"end": "kflow_backup", "rows": n, "hmac_sha256": "..."}``, the HMAC-SHA256 of
  every byte before it (uncompressed, the header included), keyed by the operator's backup key
  (:func:`load_key`). A file without it, or whose bytes do not match it under the key given to
  the import, is refused: whoever lacks the key can read the file but cannot change it.
  ``key_id`` names the key (an HMAC of a fixed text, not the key), so a wrong key is refused
  before any row is read.

Values are JSON by column type: ``integer``, ``string`` and ``boolean`` as themselves; ``float`` as
a number (``"NaN"``, ``"Infinity"``, ``"-Infinity"`` as strings); ``date`` as an ISO date;
``datetime`` as ISO 8601 with its UTC offset; ``json`` as the stored JSON text, verbatim (so SQL
NULL and JSON ``null`` stay apart and the text is byte-identical); ``bytes`` as base64. A column of
any other type makes the export refuse rather than guess.

The export reads one consistent snapshot (one read transaction; REPEATABLE READ on PostgreSQL).
The import writes in one transaction into a database migrated to the same revision and holding
no rows at all, checks every count and the authentication code before it commits, and on
PostgreSQL moves each id sequence past the highest imported id. Format 1 (a plain SHA-256 that
anyone can recompute) is refused: it cannot be authenticated.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import hashlib
import hmac
import json
import math
import os
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DataError, IntegrityError

import kflow
import kflow.schema
from kflow.db import Base
from kflow.errors import KflowError
from kflow.tools.migrate import alembic_config

FORMAT = "kflow_backup"
FORMAT_VERSION = 2
KEY_MIN_LENGTH = 32  # characters of the key file, surrounding white space left out
MAKE_KEY = "openssl rand -hex 32 > backup.key"
KEY_ID = re.compile(r"[0-9a-f]{16}")
KEY_FILE_LIMIT = 4096  # bytes; a longer file is not a key (a backup given by mistake, say)
READ_BATCH = 5000
WRITE_BATCH = 1000


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Source(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class BackupError(KflowError):
    """An export or import refused; the message says why and what to do."""

    code, status = "backup_refused", 422


@dataclasses.dataclass
class Summary:
    revision: str
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# --- the backup key ------------------------------------------------------------------------


def load_key(path: str | Path | None) -> bytes:
    """The backup key in the file at ``path``: its bytes, surrounding white space left out.

    The key is what the operator controls: the export signs with it and the import checks with
    it, so a file changed by anyone without it is refused. Without a key, both refuse.
    """
    if path is None or str(path) == "":
        raise BackupError(
            "A backup is signed and checked with a backup key that only you hold: give the file "
            f"that holds it with --key-file PATH (make one with '{MAKE_KEY}' and keep it apart "
            "from the backups)."
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(KEY_FILE_LIMIT + 1)
    except OSError as exc:
        raise BackupError(
            f"The backup key file {path} cannot be read ({exc.strerror or exc})."
        ) from None
    if len(data) > KEY_FILE_LIMIT:
        raise BackupError(
            f"{path} is longer than {KEY_FILE_LIMIT} bytes, so it is not a backup key file: give "
            f"the key (make one with '{MAKE_KEY}')."
        )
    key = data.strip()
    check_key(key, f"The backup key in {path}")
    return key


def check_key(key: bytes, what: str = "The backup key") -> None:
    """Refuse a key too short or too uniform to be secret."""
    if len(key) < KEY_MIN_LENGTH:
        raise BackupError(
            f"{what} is too short ({len(key)} characters; at least {KEY_MIN_LENGTH}): make one "
            f"with '{MAKE_KEY}'."
        )
    if len(set(key)) < 8:
        raise BackupError(
            f"{what} is not random (only {len(set(key))} different characters): make one with "
            f"'{MAKE_KEY}'."
        )


def key_id(key: bytes) -> str:
    """A name for the key, written in the header: it tells keys apart and reveals nothing."""
    return hmac.new(key, b"kflow backup key id", hashlib.sha256).hexdigest()[:16]


def _mac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


# --- column codecs --------------------------------------------------------------------------


def _kind(column: Column[Any]) -> str:
    """The backup type of a column; refuse types this format does not know."""
    kinds: list[tuple[type, str]] = [
        (JSON, "json"),
        (Boolean, "boolean"),
        (Integer, "integer"),
        (Float, "float"),
        (DateTime, "datetime"),
        (Date, "date"),
        (LargeBinary, "bytes"),
        (String, "string"),  # Text is a String
    ]
    column_type = column.type
    impl = getattr(column_type, "impl", None)  # a TypeDecorator (UTCDateTime) by what it stores
    for candidate in (column_type, impl):
        for cls, kind in kinds:
            if isinstance(candidate, cls):
                return kind
    raise BackupError(
        f"Column {column.table.name}.{column.name} has a type the backup format does not know "
        f"({column_type!r}); kflow's backup needs to learn it first."
    )


def _encode_float(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _encode_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:  # never from kflow's UTCDateTime; refuse to guess a zone
        raise BackupError(f"A naive date-time ({value.isoformat()}) cannot be exported safely.")
    return value.isoformat()


ENCODERS: dict[str, Callable[[Any], Any]] = {
    "integer": int,
    "string": str,
    "boolean": bool,
    "float": _encode_float,
    "date": lambda v: v.isoformat(),
    "datetime": _encode_datetime,
    "json": str,  # the stored text (read through CAST(... AS TEXT))
    "bytes": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
}


def _decode_integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _decode_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _decode_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value


def _decode_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _decode_datetime(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(_decode_string(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def _decode_json(value: Any) -> str:
    text = _decode_string(value)
    json.loads(text)  # must be a JSON document
    return text


DECODERS: dict[str, Callable[[Any], Any]] = {
    "integer": _decode_integer,
    "string": _decode_string,
    "boolean": _decode_boolean,
    "float": _decode_float,
    "date": lambda v: dt.date.fromisoformat(_decode_string(v)),
    "datetime": _decode_datetime,
    "json": _decode_json,
    "bytes": lambda v: base64.b64decode(_decode_string(v), validate=True),
}


# --- schema ---------------------------------------------------------------------------------


def tables() -> list[Table]:
    """Every kflow table, parents before children."""
    return list(Base.metadata.sorted_tables)


def _columns(table: Table) -> list[dict[str, str]]:
    return [{"name": c.name, "type": _kind(c)} for c in table.columns]


def code_revision(engine: Engine) -> str:
    """The migration this kflow's models match (the single Alembic head)."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if head is None:  # pragma: no cover - kflow always ships migrations
        raise BackupError("kflow has no migrations.")
    return head


def _database_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _self_references(table: Table) -> list[tuple[int, int]]:
    """(column index, primary key index) of each foreign key from ``table`` to itself."""
    names = [c.name for c in table.columns]
    pk = list(table.primary_key.columns)
    found = []
    for fk in table.foreign_keys:
        if fk.column.table is table and len(pk) == 1 and fk.column is pk[0]:
            found.append((names.index(fk.parent.name), names.index(pk[0].name)))
    return found


# --- export ---------------------------------------------------------------------------------


class _Writer:
    """Writes lines to a binary stream, keeping the HMAC-SHA256 of everything written."""

    def __init__(self, out: Sink, key: bytes) -> None:
        self.out = out
        self.mac = _mac(key)

    def line(self, value: Any) -> None:
        data = _dumps(value).encode("utf-8") + b"\n"
        self.mac.update(data)
        self.out.write(data)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _read_statement(table: Table) -> Any:
    selected: list[ColumnElement[Any]] = [
        cast(c, Text).label(c.name) if _kind(c) == "json" else c for c in table.columns
    ]
    return select(*selected).order_by(*table.primary_key.columns)


def _snapshot(engine: Engine) -> Connection:
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


def export_to(engine: Engine, out: Sink, *, key: bytes, now: dt.datetime | None = None) -> Summary:
    """Write the whole database to ``out`` (uncompressed lines; see :func:`export_file`)."""
    check_key(key)
    with _snapshot(engine) as conn, conn.begin():
        revision = _database_revision(conn)
        expected = code_revision(engine)
        if revision != expected:
            raise BackupError(
                f"The database is at schema revision {revision or 'none'}, but this kflow "
                f"expects {expected}: run 'kflow db upgrade' first."
            )
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables()
        }
        header = {
            FORMAT: FORMAT_VERSION,
            "kflow_version": kflow.__version__,
            "alembic_revision": revision,
            "exported_at": (now or dt.datetime.now(dt.UTC)).isoformat(),
            "source": engine.dialect.name,
            "key_id": key_id(key),
            "tables": [
                {"name": t.name, "columns": _columns(t), "rows": counts[t.name]} for t in tables()
            ],
        }
        writer = _Writer(out, key)
        writer.line(header)
        for table in tables():
            written = _export_table(conn, table, writer)
            if written != counts[table.name]:  # pragma: no cover - the snapshot forbids it
                raise BackupError(f"Table {table.name} changed during the export; try again.")
        total = sum(counts.values())
        writer.out.write(
            _dumps({"end": FORMAT, "rows": total, "hmac_sha256": writer.mac.hexdigest()}).encode()
            + b"\n"
        )
    return Summary(revision, counts)


def _export_table(conn: Connection, table: Table, writer: _Writer) -> int:
    encoders = [ENCODERS[_kind(c)] for c in table.columns]
    self_refs = _self_references(table)
    result = conn.execute(
        _read_statement(table),
        execution_options={"stream_results": True, "yield_per": READ_BATCH},
    )
    written = 0
    for row in result:
        for ref, pk in self_refs:
            # Rows go out by primary key and come back in that order: a row may only point at
            # an earlier one (kflow always creates a parent before its children).
            if row[ref] is not None and row[ref] > row[pk]:
                raise BackupError(
                    f"Row {row[pk]} of {table.name} refers to the later row {row[ref]}; "
                    "the backup format cannot restore that order."
                )
        writer.line(
            [
                table.name,
                [None if v is None else enc(v) for enc, v in zip(encoders, row, strict=True)],
            ]
        )
        written += 1
    return written


def export_file(
    engine: Engine, target: str | Path, *, key: bytes, overwrite: bool = False
) -> Summary:
    """Export to a gzip file, written beside it first and moved into place when complete."""
    check_key(key)
    path = Path(target)
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another name or pass --force.")
    partial = path.with_name(path.name + ".partial")
    try:
        with gzip.open(partial, "wb") as out:
            summary = export_to(engine, out, key=key)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def export_stream(engine: Engine, stream: IO[bytes], *, key: bytes) -> Summary:
    """Export as gzip to an open binary stream (standard output)."""
    check_key(key)
    with gzip.GzipFile(fileobj=stream, mode="wb") as out:
        return export_to(engine, out, key=key)


# --- import ---------------------------------------------------------------------------------


class _Reader:
    """Reads the lines of a backup, keeping their HMAC and turning damage into BackupError.

    The HMAC covers every line but the last one read so far: when the trailer has been read, it
    covers exactly the bytes before the trailer, the header included.
    """

    def __init__(self, source: Source, name: str, key: bytes) -> None:
        self.source = source
        self.name = name
        self.key = key
        self.mac = _mac(key)
        self.last = b""  # the last line read, not yet in the HMAC

    def _damaged(self, why: str) -> BackupError:
        return BackupError(
            f"{self.name} is not a complete kflow backup ({why}); nothing was imported."
        )

    def forged(self) -> BackupError:
        return BackupError(
            f"{self.name} was changed after it was exported, or the backup key given is not the "
            "one it was exported with (its authentication code does not match); nothing was "
            "imported."
        )

    def _readline(self) -> bytes:
        try:
            data = self.source.readline()
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise self._damaged(f"damaged or truncated: {exc}") from None
        if data:
            self.mac.update(self.last)
            self.last = data
        return data

    def next(self) -> Any:
        data = self._readline()
        if not data:
            raise self._damaged("it ends before its last line; it is truncated")
        if not data.endswith(b"\n"):
            raise self._damaged("its last line is cut off; it is truncated")
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise self._damaged("a line is not JSON") from None

    def authentic(self, trailer: Any) -> bool:
        """Whether ``trailer`` carries the HMAC of every byte before it, under our key."""
        code = trailer.get("hmac_sha256") if isinstance(trailer, dict) else None
        if not isinstance(code, str):
            return False
        return hmac.compare_digest(code.encode("utf-8"), self.mac.hexdigest().encode("ascii"))

    def rest_is_forged(self) -> bool:
        """Read on to the end without importing: is the file's authentication code wrong?

        Used when a row is refused midway, so that a file someone changed is reported as such
        rather than as damage. False when the file cannot be read to its end.
        """
        try:
            while self._readline():
                pass
            trailer = json.loads(self.last)
        except (BackupError, UnicodeDecodeError, ValueError):
            return False
        if not (isinstance(trailer, dict) and trailer.get("end") == FORMAT):
            return False  # truncated or otherwise damaged: the first error says it
        return not self.authentic(trailer)

    def at_end(self) -> bool:
        try:
            return self.source.read(1) == b""
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise self._damaged(f"damaged after its last line: {exc}") from None


def _header(reader: _Reader, expected_revision: str) -> dict[str, Any]:
    try:
        header = reader.next()
    except BackupError:
        raise BackupError(f"{reader.name} is not a kflow backup.") from None
    if not isinstance(header, dict) or FORMAT not in header:
        raise BackupError(f"{reader.name} is not a kflow backup.")
    if header[FORMAT] == 1:
        raise BackupError(
            f"{reader.name} is a format 1 backup, whose plain checksum anyone can recompute, so "
            "it cannot be authenticated and is refused; nothing was imported (docs/backup.md "
            "says how to restore such a file you trust)."
        )
    if header[FORMAT] != FORMAT_VERSION:
        raise BackupError(
            f"{reader.name} is in backup format {header[FORMAT]}; this kflow reads format "
            f"{FORMAT_VERSION}."
        )
    written_with = header.get("key_id")
    if not isinstance(written_with, str) or not hmac.compare_digest(
        written_with.encode("utf-8"), key_id(reader.key).encode("ascii")
    ):
        shown = (
            written_with
            if isinstance(written_with, str) and KEY_ID.fullmatch(written_with)
            else "missing"
        )
        raise BackupError(
            f"{reader.name} was exported with another backup key (key id {shown}, the key "
            f"given has {key_id(reader.key)}), or its header was changed; nothing was imported."
        )
    revision = header.get("alembic_revision")
    if revision != expected_revision:
        raise BackupError(
            f"{reader.name} holds schema revision {revision} (kflow "
            f"{header.get('kflow_version')}), but this kflow is at {expected_revision}: import it "
            "with the kflow version that wrote it, then run 'kflow db upgrade'."
        )
    known = {t.name: _columns(t) for t in tables()}
    listed = header.get("tables")
    if (
        not isinstance(listed, list)
        or not all(isinstance(t, dict) for t in listed)
        or [t.get("name") for t in listed] != list(known)
    ):
        raise BackupError(f"{reader.name} does not list kflow's tables of revision {revision}.")
    for entry in listed:
        if entry.get("columns") != known[entry["name"]] or not isinstance(entry.get("rows"), int):
            raise BackupError(
                f"{reader.name}: the columns of {entry['name']} are not those of revision "
                f"{revision}."
            )
    return header


def _check_target(conn: Connection, revision: str) -> None:
    current = _database_revision(conn)
    if current != revision:
        raise BackupError(
            f"The target database is at schema revision {current or 'none'}, the backup at "
            f"{revision}: run 'kflow db upgrade' on an empty database first."
        )
    filled = [t.name for t in tables() if conn.execute(select(1).select_from(t).limit(1)).first()]
    if filled:
        raise BackupError(
            f"The target database is not empty (rows in {', '.join(filled)}). Import only into "
            "a database that 'kflow db upgrade' has just created, before 'kflow seed' or "
            "'kflow demo'."
        )


def _insert_statement(table: Table) -> Any:
    """An INSERT of every column; JSON goes in as the text it was (SQLite stores it as text)."""
    values = {
        c.name: bindparam(c.name, type_=Text if _kind(c) == "json" else c.type)
        for c in table.columns
    }
    return insert(table).values(values)


class _Inserter:
    """Writes batches of decoded rows: COPY on PostgreSQL, executemany INSERTs on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.copy = conn.dialect.name == "postgresql"
        self.quote = conn.dialect.identifier_preparer.quote
        self.statements: dict[str, Any] = {}

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.copy:
            # COPY takes the values as they are (the JSON text included) and is several times
            # faster than INSERT; it runs in the same transaction, with every constraint and
            # INSERT trigger in force.
            columns = ", ".join(self.quote(c.name) for c in table.columns)
            driver = self.conn.connection.driver_connection
            assert driver is not None
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {self.quote(table.name)} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        statement = self.statements.get(table.name)
        if statement is None:
            statement = self.statements[table.name] = _insert_statement(table)
        names = [c.name for c in table.columns]
        self.conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])


class _Malformed(Exception):
    """A row line that cannot be imported (turned into BackupError once the rest is checked)."""


def _reset_sequences(conn: Connection) -> None:
    """Move each PostgreSQL id sequence past the highest imported id."""
    if conn.dialect.name != "postgresql":
        return  # SQLite hands out max(rowid) + 1 by itself
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = conn.execute(
            select(func.pg_get_serial_sequence(table.name, column.name))
        ).scalar_one()
        if sequence is None:
            continue
        highest = conn.execute(select(func.max(column))).scalar_one()
        conn.execute(select(func.setval(sequence, (highest or 0) + 1, False)))


def import_from(engine: Engine, source: Source, name: str, *, key: bytes) -> Summary:
    """Import a backup stream (uncompressed lines) in one transaction, all or nothing.

    Rows are written as they come, but the transaction commits only once the file's
    authentication code matches under ``key``: a changed file leaves the database empty.
    """
    check_key(key)
    reader = _Reader(source, name, key)
    revision = code_revision(engine)
    header = _header(reader, revision)
    expected = {entry["name"]: entry["rows"] for entry in header["tables"]}
    by_name = {t.name: t for t in tables()}
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn = conn.execution_options(kflow_begin="IMMEDIATE")  # the write lock up front
    with conn, conn.begin():
        if engine.dialect.name == "postgresql":
            names = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in by_name)
            conn.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        _check_target(conn, revision)
        dbapi = engine.dialect.dbapi
        refused: tuple[type[BaseException], ...] = (IntegrityError, DataError)
        if dbapi is not None:  # COPY raises the driver's own errors
            refused += (dbapi.IntegrityError, dbapi.DataError)
        try:
            counts = _import_rows(conn, reader, by_name, expected)
        except refused as exc:
            if reader.rest_is_forged():
                raise reader.forged() from None
            cause = exc.orig if isinstance(exc, IntegrityError | DataError) else exc
            reason = (str(cause).strip().splitlines() or ["unknown error"])[0].rstrip(".")
            raise BackupError(
                f"{name} does not fit the database ({reason}); nothing was imported."
            ) from None
        except _Malformed as exc:
            if reader.rest_is_forged():
                raise reader.forged() from None
            raise reader._damaged(str(exc)) from None
        _reset_sequences(conn)
    return Summary(revision, counts)


def _import_rows(
    conn: Connection, reader: _Reader, by_name: dict[str, Table], expected: dict[str, int]
) -> dict[str, int]:
    order = list(expected)
    counts = dict.fromkeys(order, 0)
    position = 0  # the table whose rows come now
    batch: list[tuple[Any, ...]] = []
    inserter = _Inserter(conn)
    decoders = {n: [DECODERS[_kind(c)] for c in t.columns] for n, t in by_name.items()}

    def flush() -> None:
        inserter.write(by_name[order[position]], batch)
        batch.clear()

    while True:
        line = reader.next()
        if isinstance(line, dict):
            break
        if not (isinstance(line, list) and len(line) == 2 and line[0] in counts):
            raise _Malformed("a row line is malformed")
        table_name, values = line
        if table_name != order[position]:
            if order.index(table_name) < position:
                raise _Malformed(f"rows of {table_name} come out of order")
            flush()
            position = order.index(table_name)
        columns = decoders[table_name]
        if not isinstance(values, list) or len(values) != len(columns):
            raise _Malformed(f"a row of {table_name} has the wrong number of values")
        try:
            batch.append(
                tuple(
                    None if value is None else decode(value)
                    for decode, value in zip(columns, values, strict=True)
                )
            )
        except (ValueError, TypeError) as exc:
            raise _Malformed(f"a value of {table_name} is malformed: {exc}") from None
        counts[table_name] += 1
        if len(batch) >= WRITE_BATCH:
            flush()
    flush()
    trailer = line
    if trailer.get("end") != FORMAT:
        raise _Malformed("a line where its last line should be")
    if not reader.authentic(trailer):
        raise reader.forged()
    if counts != expected or trailer.get("rows") != sum(counts.values()):
        differ = [n for n in order if counts[n] != expected[n]]
        raise reader._damaged(f"row counts differ from its header in {', '.join(differ)}")
    if not reader.at_end():
        raise reader._damaged("there is data after its last line")
    return counts


def import_file(engine: Engine, source: str | Path, *, key: bytes) -> Summary:
    check_key(key)
    path = Path(source)
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    with gzip.open(path, "rb") as stream:
        return import_from(engine, stream, str(path), key=key)


def import_stream(
    engine: Engine, stream: IO[bytes], name: str = "standard input", *, key: bytes
) -> Summary:
    check_key(key)
    with gzip.GzipFile(fileobj=stream, mode="rb") as decompressed:
        return import_from(engine, decompressed, name, key=key)
