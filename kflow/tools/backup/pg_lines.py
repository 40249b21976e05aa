"""Row lines written by PostgreSQL itself: each row's whole line, ``["table",[values]]``, as
the text kflow.tools.backup.codecs' encoders and kflow.tools.backup.format.dumps make of it in
Python, byte for byte (tests/tools/test_backup.py compares the two). The export then only
joins, signs and compresses text; at millions of rows that halves its time.

Per column type (the codecs' kinds), the SQL that gives its JSON text:

* integers as PostgreSQL prints them; booleans ``true``/``false``;
* strings, and JSON columns as their stored text, through ``to_json(text)``: PostgreSQL escapes
  ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and other control characters as ``\\u00xx``, as
  Python's encoder does with ``ensure_ascii=False``;
* floats as the shortest text that reads back the same value (``extra_float_digits = 1``, both
  sides), with Python's ``.0`` for whole numbers and its plain notation from 1e15 to 1e16
  (where PostgreSQL already writes an exponent); NaN and the infinities as strings;
* dates and date-times as ISO 8601 in UTC, microseconds only when there are some (as
  ``datetime.isoformat`` writes them);
* bytes as base64 without line breaks.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Table

from kflow.tools.backup.codecs import kind


def _float(c: str) -> str:
    text = f"{c}::text"
    plain = f"{c}::text::numeric::text"  # 1e+15 -> 1000000000000000
    return (
        f"CASE WHEN {c} IS NULL THEN 'null'"
        f" WHEN {c} IN ('NaN', 'Infinity', '-Infinity') THEN '\"' || {text} || '\"'"
        f" WHEN abs({c}) >= 1e15 AND abs({c}) < 1e16"
        f" THEN {plain} || CASE WHEN strpos({plain}, '.') > 0 THEN '' ELSE '.0' END"
        f" WHEN strpos({text}, '.') > 0 OR strpos({text}, 'e') > 0 THEN {text}"
        f" ELSE {text} || '.0' END"
    )


def _datetime(c: str) -> str:
    utc = f"({c} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {c} IS NULL THEN 'null' ELSE"
        f" '\"' || to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {utc}) = {utc} THEN ''"
        f" ELSE '.' || to_char({utc}, 'US') END || '+00:00\"' END"
    )


SQL: dict[str, Callable[[str], str]] = {
    "integer": lambda c: f"coalesce({c}::text, 'null')",
    "string": lambda c: f"coalesce(to_json({c}::text)::text, 'null')",
    "boolean": lambda c: f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' ELSE 'null' END",
    "float": _float,
    "date": lambda c: (
        f"CASE WHEN {c} IS NULL THEN 'null' ELSE '\"' || to_char({c}, 'YYYY-MM-DD') || '\"' END"
    ),
    "datetime": _datetime,
    "json": lambda c: f"coalesce(to_json({c}::text)::text, 'null')",
    "bytes": lambda c: (
        f"CASE WHEN {c} IS NULL THEN 'null'"
        f" ELSE '\"' || translate(encode({c}, 'base64'), E'\\n', '') || '\"' END"
    ),
}

# Run in the export's transaction before the first statement.
SETTINGS = "SET LOCAL extra_float_digits = 1"


def statement(table: Table, quote: Callable[[str], str]) -> str:
    """SELECT of one text per row, the row's whole line (without its newline), by primary key."""
    values = " || ',' || ".join(SQL[kind(c)](quote(c.name)) for c in table.columns)
    start = f"[{json.dumps(table.name)},["  # a table's name is a plain identifier
    order = ", ".join(quote(c.name) for c in table.primary_key.columns)
    # Every name is kflow's own (the metadata's), quoted; no value comes from outside.
    return f"SELECT '{start}' || {values} || ']]' FROM {quote(table.name)} ORDER BY {order}"  # noqa: S608
