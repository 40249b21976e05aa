"""What a backup holds: every kflow table, parents first, at the schema revision of this
kflow's migrations; and the empty database of that revision an import needs."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, select

import kflow.schema  # noqa: F401 (registers every table with the metadata)
from kflow.db import Base
from kflow.tools.backup.codecs import kind
from kflow.tools.backup.format import BackupError
from kflow.tools.migrate import alembic_config


def tables() -> list[Table]:
    """Every kflow table, parents before children."""
    return list(Base.metadata.sorted_tables)


def columns(table: Table) -> list[dict[str, str]]:
    """The header's description of ``table``'s columns: name and backup type, in order."""
    return [{"name": c.name, "type": kind(c)} for c in table.columns]


def code_revision(engine: Engine) -> str:
    """The migration this kflow's models match (the single Alembic head)."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if head is None:  # pragma: no cover - kflow always ships migrations
        raise BackupError("kflow has no migrations.")
    return head


def database_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def self_references(table: Table) -> list[tuple[int, int]]:
    """(column index, primary key index) of each foreign key from ``table`` to itself."""
    names = [c.name for c in table.columns]
    pk = list(table.primary_key.columns)
    found = []
    for fk in table.foreign_keys:
        if fk.column.table is table and len(pk) == 1 and fk.column is pk[0]:
            found.append((names.index(fk.parent.name), names.index(pk[0].name)))
    return found


def check_target(conn: Connection, revision: str) -> None:
    """Refuse a target database at another revision, or holding any row at all."""
    current = database_revision(conn)
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
