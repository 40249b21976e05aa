"""Writing imported rows: COPY on PostgreSQL, executemany INSERTs on SQLite; and the id
sequences moved past them."""

from __future__ import annotations

from contextlib import ExitStack
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
    """Writes batches of decoded rows: on PostgreSQL into one COPY per table, kept open from
    its first row to its last (the server stores rows while the next are read); on SQLite as
    executemany INSERTs. Used as a context manager: leaving it ends the open COPY, or cancels
    it when an error is on its way out."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.copy = conn.dialect.name == "postgresql"
        self.quote = conn.dialect.identifier_preparer.quote
        self.statements: dict[str, Any] = {}
        # A row may point at a later row of its own table (a unit's host healthcare region, made
        # after the NPO): written as NULL first, set by ``finish`` once every row is in.
        self.late: list[tuple[Table, int, int, Any, Any]] = []
        self.open: tuple[str, ExitStack, Any] | None = None  # table name, its COPY

    def __enter__(self) -> Inserter:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.open is not None:
            stack, self.open = self.open[1], None
            stack.__exit__(*exc)

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        refs = self_references(table)
        if refs:
            rows = [self._defer_forward(table, refs, row) for row in rows]
        if self.copy:
            copy = self._copy(table)
            for row in rows:
                copy.write_row(row)
            return
        statement = self.statements.get(table.name)
        if statement is None:
            statement = self.statements[table.name] = _insert_statement(table)
        names = [c.name for c in table.columns]
        self.conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])

    def _copy(self, table: Table) -> Any:
        """The open COPY into ``table``, begun now if another table's is open (that one ends:
        its rows are then stored, or refused with the driver's error)."""
        if self.open is not None and self.open[0] == table.name:
            return self.open[2]
        self.__exit__(None, None, None)
        # COPY takes the values as they are (the JSON text included); it runs in the same
        # transaction, with every constraint kept in force (kflow.tools.backup.pg_bulk).
        columns = ", ".join(self.quote(c.name) for c in table.columns)
        driver = self.conn.connection.driver_connection
        assert driver is not None
        stack = ExitStack()
        cursor = stack.enter_context(driver.cursor())
        copy = stack.enter_context(
            cursor.copy(f"COPY {self.quote(table.name)} ({columns}) FROM STDIN")
        )
        self.open = (table.name, stack, copy)
        return copy

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
        """End the open COPY; set the references to later rows that ``write`` left NULL."""
        self.__exit__(None, None, None)
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
