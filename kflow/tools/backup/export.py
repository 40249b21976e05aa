"""The export: the whole database, read from one consistent snapshot, to a signed stream."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, Text, cast, func, select

import kflow
from kflow.documents.storage import FileStore
from kflow.tools.backup import files as backup_files
from kflow.tools.backup import pg_lines
from kflow.tools.backup.codecs import ENCODERS, kind
from kflow.tools.backup.format import (
    FORMAT,
    FORMAT_VERSION,
    GZIP_LEVEL,
    READ_BATCH,
    WRITE_BATCH,
    BackupError,
    Sink,
    Summary,
    dumps,
)
from kflow.tools.backup.key import check_key, key_id, mac
from kflow.tools.backup.schema import (
    code_revision,
    columns,
    database_revision,
    tables,
)


class Writer:
    """Writes lines to a binary stream, keeping the HMAC-SHA256 of everything written. Lines
    are gathered and written (and authenticated) a batch at a time; ``flush`` writes the rest."""

    def __init__(self, out: Sink, key: bytes) -> None:
        self.out = out
        self.mac = mac(key)
        self.pending: list[str] = []

    def line(self, value: Any) -> None:
        self.pending.append(dumps(value))
        if len(self.pending) >= WRITE_BATCH:
            self.flush()

    def lines(self, texts: Sequence[str]) -> None:
        """Lines already made (kflow.tools.backup.pg_lines)."""
        self.pending.extend(texts)
        if len(self.pending) >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.pending.append("")  # every line ends with a newline
            data = "\n".join(self.pending).encode("utf-8")
            self.pending.clear()
            self.mac.update(data)
            self.out.write(data)


def _read_statement(table: Table) -> Any:
    selected: list[ColumnElement[Any]] = [
        cast(c, Text).label(c.name) if kind(c) == "json" else c for c in table.columns
    ]
    return select(*selected).order_by(*table.primary_key.columns)


def _snapshot(engine: Engine) -> Connection:
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


def export_to(
    engine: Engine,
    out: Sink,
    *,
    key: bytes,
    now: dt.datetime | None = None,
    files: FileStore | None = None,
) -> Summary:
    """Write the whole database to ``out`` (uncompressed lines; see :func:`export_file`), and
    the attachments' files from ``files`` (kflow.tools.backup.files)."""
    check_key(key)
    with _snapshot(engine) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(pg_lines.SETTINGS)
        revision = database_revision(conn)
        expected = code_revision(engine)
        if revision != expected:
            raise BackupError(
                f"The database is at schema revision {revision or 'none'}, but this kflow "
                f"expects {expected}: run 'kflow db upgrade' first."
            )
        stored = backup_files.export_lines(conn, files)
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
                {"name": t.name, "columns": columns(t), "rows": counts[t.name]} for t in tables()
            ],
            "files": len(stored),
        }
        writer = Writer(out, key)
        writer.line(header)
        for table in tables():
            written = _export_table(conn, table, writer)
            if written != counts[table.name]:  # pragma: no cover - the snapshot forbids it
                raise BackupError(f"Table {table.name} changed during the export; try again.")
        for name in stored:
            assert files is not None  # export_lines refused a database with files and no store
            writer.line(backup_files.line(files, name))
            writer.flush()  # a file's line may be large: one at a time
        writer.flush()
        total = sum(counts.values())
        writer.out.write(
            dumps({"end": FORMAT, "rows": total, "hmac_sha256": writer.mac.hexdigest()}).encode()
            + b"\n"
        )
    return Summary(revision, counts)


# Values the driver already gives as the file holds them (an int, a str, a bool).
_AS_THEY_ARE = ("integer", "string", "boolean")


def _export_table(conn: Connection, table: Table, writer: Writer) -> int:
    if conn.dialect.name == "postgresql":
        return _export_lines(conn, table, writer)
    encoders = [
        (i, ENCODERS[kind(c)]) for i, c in enumerate(table.columns) if kind(c) not in _AS_THEY_ARE
    ]
    # Rows go out by primary key; a row that points at a later row of its own table gets that
    # reference set after the table is in (kflow.tools.backup.inserter).
    result = conn.execute(
        _read_statement(table),
        execution_options={"stream_results": True, "yield_per": READ_BATCH},
    )
    written = 0
    for row in result:
        values = list(row)
        for i, encode in encoders:
            if values[i] is not None:
                values[i] = encode(values[i])
        writer.line([table.name, values])
        written += 1
    writer.flush()  # a table's rows start a write of their own
    return written


def _export_lines(conn: Connection, table: Table, writer: Writer) -> int:
    """PostgreSQL writes each row's line itself (kflow.tools.backup.pg_lines)."""
    sql = pg_lines.statement(table, conn.dialect.identifier_preparer.quote)
    # yield_per on the result: as an execution option it does not bound a driver statement
    result = conn.exec_driver_sql(sql, execution_options={"stream_results": True})
    written = 0
    for texts in result.yield_per(READ_BATCH).scalars().partitions():
        writer.lines(texts)
        written += len(texts)
    writer.flush()
    return written


def export_file(
    engine: Engine,
    target: str | Path,
    *,
    key: bytes,
    overwrite: bool = False,
    files: FileStore | None = None,
) -> Summary:
    """Export to a gzip file, written beside it first and moved into place when complete."""
    check_key(key)
    path = Path(target)
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another name or pass --force.")
    partial = path.with_name(path.name + ".partial")
    try:
        with gzip.open(partial, "wb", compresslevel=GZIP_LEVEL) as out:
            summary = export_to(engine, out, key=key, files=files)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def export_stream(
    engine: Engine, stream: IO[bytes], *, key: bytes, files: FileStore | None = None
) -> Summary:
    """Export as gzip to an open binary stream (standard output)."""
    check_key(key)
    with gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=GZIP_LEVEL) as out:
        return export_to(engine, out, key=key, files=files)
