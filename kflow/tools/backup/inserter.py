"""Writing imported rows: COPY on PostgreSQL, executemany INSERTs on SQLite; and the id
sequences moved past them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, Text, bindparam, func, insert, select, update

from kflow.tools.backup.codecs import kind
from kflow.tools.backup.schema import self_references, tables


def _insert_statement(table: Table) -> Any:
    """An INSERT of every column; JSON goes in as the text it was (SQLite stores it as text)."""
    values = {
        c.name: bindparam(c.name, type_=Text if kind(c) == "json" else c.type)
        for c in table.columns
    }
    return insert(table).values(values)


class Inserter:
    """Writes batches of decoded rows: COPY on PostgreSQL, executemany INSERTs on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.copy = conn.dialect.name == "postgresql"
        self.quote = conn.dialect.identifier_preparer.quote
        self.statements: dict[str, Any] = {}
        # A row may point at a later row of its own table (a unit's host healthcare region, made
        # after the NPO): written as NULL first, set by ``finish`` once every row is in.
        self.late: list[tuple[Table, int, int, Any, Any]] = []

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        refs = self_references(table)
        if refs:
            rows = [self._defer_forward(table, refs, row) for row in rows]
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

    def _defer_forward(
        self, table: Table, refs: list[tuple[int, int]], row: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        values = list(row)
        for ref, pk in refs:
            if values[ref] is not None and values[ref] > values[pk]:
                self.late.append((table, pk, ref, values[pk], values[ref]))
                values[ref] = None
        return tuple(values)

    def finish(self) -> None:
        """Set the references to later rows that ``write`` left NULL."""
        for table, pk, ref, key, value in self.late:
            columns = list(table.columns)
            self.conn.execute(
                update(table).where(columns[pk] == key).values({columns[ref].name: value})
            )
        self.late.clear()


def reset_sequences(conn: Connection) -> None:
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
