"""The import: a backup into an empty database of the same revision, in one transaction that
commits only once every count and the file's authentication code have been checked."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import DataError, IntegrityError

from kflow.documents.storage import FileStore
from kflow.tools.backup import pg_bulk
from kflow.tools.backup.codecs import DECODERS, SERVER_DECODERS, Malformed, RowDecoder
from kflow.tools.backup.files import FILE_LINE, Restorer
from kflow.tools.backup.format import FORMAT, WRITE_BATCH, BackupError, Source, Summary
from kflow.tools.backup.header import read_header
from kflow.tools.backup.inserter import Inserter, reset_sequences
from kflow.tools.backup.key import check_key
from kflow.tools.backup.reader import Reader
from kflow.tools.backup.schema import check_target, code_revision, tables

ATTACHMENTS = "attachments"


def import_from(
    engine: Engine, source: Source, name: str, *, key: bytes, files: FileStore | None = None
) -> Summary:
    """Import a backup stream (uncompressed lines) in one transaction, all or nothing.

    Rows are written as they come, but the transaction commits only once the file's
    authentication code matches under ``key``: a changed file leaves the database empty.
    Attachments' files are written to ``files``, and removed again if the import fails.
    """
    check_key(key)
    restorer = Restorer(files)
    try:
        return _import(engine, source, name, key, restorer)
    except BaseException:
        restorer.undo()
        raise


def _import(engine: Engine, source: Source, name: str, key: bytes, restorer: Restorer) -> Summary:
    reader = Reader(source, name, key)
    revision = code_revision(engine)
    header = read_header(reader, revision)
    expected = {entry["name"]: entry["rows"] for entry in header["tables"]}
    by_name = {t.name: t for t in tables()}
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn = conn.execution_options(kflow_begin="IMMEDIATE")  # the write lock up front
    bulk = engine.dialect.name == "postgresql"
    with conn, conn.begin():
        if bulk:
            names = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in by_name)
            conn.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        check_target(conn, revision)
        dbapi = engine.dialect.dbapi
        refused: tuple[type[BaseException], ...] = (IntegrityError, DataError)
        if dbapi is not None:  # COPY raises the driver's own errors
            refused += (dbapi.IntegrityError, dbapi.DataError)
        try:
            aside = pg_bulk.set_aside(conn, list(by_name)) if bulk else None
            counts = _import_rows(conn, reader, by_name, expected, restorer)
            why = restorer.check(header.get("files", 0), restorer.needed)
            if why is not None:
                raise reader.damaged(why)
            if aside is not None:  # every row in and the file authentic: constraints again
                pg_bulk.restore(conn, aside)
        except refused as exc:
            if reader.rest_is_forged():
                raise reader.forged() from None
            cause = exc.orig if isinstance(exc, IntegrityError | DataError) else exc
            reason = (str(cause).strip().splitlines() or ["unknown error"])[0].rstrip(".")
            raise BackupError(
                f"{name} does not fit the database ({reason}); nothing was imported."
            ) from None
        except Malformed as exc:
            if reader.rest_is_forged():
                raise reader.forged() from None
            raise reader.damaged(str(exc)) from None
        reset_sequences(conn)
    return Summary(revision, counts)


def _import_rows(
    conn: Connection,
    reader: Reader,
    by_name: dict[str, Table],
    expected: dict[str, int],
    restorer: Restorer,
) -> dict[str, int]:
    order = list(expected)
    counts = dict.fromkeys(order, 0)
    with Inserter(conn) as inserter:
        chosen = SERVER_DECODERS if conn.dialect.name == "postgresql" else DECODERS
        decoders = {n: RowDecoder(t, chosen) for n, t in by_name.items()}
        line = _rows(reader, order, counts, by_name, decoders, inserter, restorer)
    _check_end(reader, line, counts, expected)
    return counts


def _rows(
    reader: Reader,
    order: list[str],
    counts: dict[str, int],
    by_name: dict[str, Table],
    decoders: dict[str, RowDecoder],
    inserter: Inserter,
    restorer: Restorer,
) -> Any:
    """Every row line into ``inserter``; the line after them (the trailer, checked later)."""
    position = 0  # the table whose rows come now
    batch: list[tuple[Any, ...]] = []
    sha_at = [c.name for c in by_name[ATTACHMENTS].columns].index("sha256")

    def flush() -> None:
        inserter.write(by_name[order[position]], batch)
        batch.clear()

    while True:
        line = reader.next()
        if isinstance(line, dict):
            break
        if isinstance(line, list) and line and line[0] == FILE_LINE:
            try:
                restorer.take(line)
            except ValueError as exc:
                raise Malformed(str(exc)) from None
            continue
        if not (isinstance(line, list) and len(line) == 2 and line[0] in counts):
            raise Malformed("a row line is malformed")
        table_name, values = line
        if table_name != order[position]:
            if order.index(table_name) < position:
                raise Malformed(f"rows of {table_name} come out of order")
            flush()
            position = order.index(table_name)
        batch.append(decoders[table_name](values))
        if table_name == ATTACHMENTS:
            restorer.needed.add(batch[-1][sha_at])
        counts[table_name] += 1
        if len(batch) >= WRITE_BATCH:
            flush()
    flush()
    inserter.finish()
    return line


def _check_end(
    reader: Reader, trailer: dict[str, Any], counts: dict[str, int], expected: dict[str, int]
) -> None:
    """The trailer is one, authentic, counts what was read, and nothing follows it."""
    if trailer.get("end") != FORMAT:
        raise Malformed("a line where its last line should be")
    if not reader.authentic(trailer):
        raise reader.forged()
    if counts != expected or trailer.get("rows") != sum(counts.values()):
        differ = [n for n in expected if counts[n] != expected[n]]
        raise reader.damaged(f"row counts differ from its header in {', '.join(differ)}")
    if not reader.at_end():
        raise reader.damaged("there is data after its last line")


def import_file(
    engine: Engine, source: str | Path, *, key: bytes, files: FileStore | None = None
) -> Summary:
    check_key(key)
    path = Path(source)
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    with gzip.open(path, "rb") as stream:
        return import_from(engine, stream, str(path), key=key, files=files)


def import_stream(
    engine: Engine,
    stream: IO[bytes],
    name: str = "standard input",
    *,
    key: bytes,
    files: FileStore | None = None,
) -> Summary:
    check_key(key)
    with gzip.GzipFile(fileobj=stream, mode="rb") as decompressed:
        return import_from(engine, decompressed, name, key=key, files=files)
