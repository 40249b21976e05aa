"""An import's bulk load on PostgreSQL, as pg_restore does it: inside the import's transaction,
the foreign keys and the indexes that enforce nothing are set aside before the rows go in and
made again, from their own definitions, once every row is in.

A foreign key checked row by row costs a lookup and a lock of the row it points at, and COPY
queues each check until its statement ends (a million rows, a million queued checks); made
again afterwards, each key is one join over both tables. An index is built once, sorted, rather
than grown a row at a time. Primary keys, unique indexes and CHECK constraints stay in force
throughout, so a duplicate is still refused at its row; a dangling reference is refused when
its key is made again, with PostgreSQL's own message, before anything commits. The names and
definitions come from PostgreSQL (``pg_get_constraintdef``, ``pg_get_indexdef``), so what is
made again is exactly what the migrations made.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Connection, text

_FOREIGN_KEYS = text(
    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
    "FROM pg_constraint c WHERE c.contype = 'f' "
    "AND c.conrelid = ANY (CAST(:tables AS regclass[])) ORDER BY 1, 2"
)
_PLAIN_INDEXES = text(
    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
    "FROM pg_index i WHERE NOT i.indisunique AND NOT i.indisprimary "
    "AND i.indrelid = ANY (CAST(:tables AS regclass[])) ORDER BY 1"
)
# Index builds sort in memory up to this much (the session's default is 64 MB).
MAINTENANCE_WORK_MEM = "256MB"


@dataclasses.dataclass
class SetAside:
    """What :func:`set_aside` dropped, to be made again by :func:`restore`."""

    foreign_keys: list[tuple[str, str, str]]  # table, name, definition
    indexes: list[tuple[str, str]]  # name, CREATE INDEX statement


def set_aside(conn: Connection, table_names: list[str]) -> SetAside:
    quote = conn.dialect.identifier_preparer.quote
    names = [quote(n) for n in table_names]
    keys = [tuple(r) for r in conn.execute(_FOREIGN_KEYS, {"tables": names})]
    indexes = [tuple(r) for r in conn.execute(_PLAIN_INDEXES, {"tables": names})]
    for table, name, _ in keys:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    return SetAside(keys, indexes)


def restore(conn: Connection, aside: SetAside) -> None:
    """Make the indexes and foreign keys again (a dangling reference raises IntegrityError)."""
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    for _, statement in aside.indexes:
        conn.exec_driver_sql(statement)
    for table, name, definition in aside.foreign_keys:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
