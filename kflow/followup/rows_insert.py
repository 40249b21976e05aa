"""Many measurement rows in one INSERT ... SELECT: the rows travel as one JSON array (a bound
parameter) that the database unpacks (SQLite's ``json_each``, PostgreSQL's
``jsonb_array_elements``), and what every row shares (who reported, and when) is bound once.

Per row, an executemany binds and converts each value in Python; here the database does the
unpacking, and SQLAlchemy's type processing runs once per statement for the shared values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, String, Table, bindparam, func, literal_column, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import ColumnElement

from kflow.followup.models import Measurement

M = cast(Table, Measurement.__table__)
# The columns each row carries, in the order of its JSON array.
COLUMNS = (
    "indicator_id",
    "unit_id",
    "period",
    "value",
    "numerator",
    "denominator",
    "comment",
    "case_id",
    "supersedes_id",
)
CHUNK = 20_000  # rows per statement: a few MB of JSON


def insert_rows(
    connection: Connection,
    rows: Sequence[Sequence[Any]],
    *,
    reported_by_id: int | None,
    reported_at: dt.datetime,
) -> None:
    """Insert ``rows`` (tuples in the order of COLUMNS) as current measurements."""
    postgresql = connection.dialect.name == "postgresql"
    for start in range(0, len(rows), CHUNK):
        payload = json.dumps(list(rows[start : start + CHUNK]), separators=(",", ":"))
        document = bindparam("rows", payload, type_=String)
        if postgresql:
            elements = func.jsonb_array_elements(sql_cast(document, JSONB))
        else:
            elements = func.json_each(document)
        each = elements.table_valued("value").alias("each_row")
        values = [_field(each.c.value, i, name, postgresql) for i, name in enumerate(COLUMNS)]
        shared = [
            bindparam("reported_by_id", reported_by_id, type_=M.c.reported_by_id.type),
            bindparam("reported_at", reported_at, type_=M.c.reported_at.type),
        ]
        statement = M.insert().from_select(
            [*COLUMNS, "reported_by_id", "reported_at"],
            select(*values, *shared).select_from(each),
        )
        connection.execute(statement)


def _field(
    element: ColumnElement[Any], index: int, name: str, postgresql: bool
) -> ColumnElement[Any]:
    if postgresql:  # ->> gives text (NULL for JSON null), cast to the column's type
        text = element.op("->>")(literal_column(str(index)))
        return sql_cast(text, M.c[name].type).label(name)
    return func.json_extract(element, f"$[{index}]").label(name)
