"""PostgreSQL writes a backup's row lines itself (kflow.tools.backup.pg_lines): for awkward
values of every column type, its lines are byte for byte what Python's encoders write."""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa
from sqlalchemy import Column, MetaData, Table

from kflow.db import UTCDateTime, make_engine
from kflow.tools.backup import pg_lines
from kflow.tools.backup.codecs import ENCODERS, kind
from kflow.tools.backup.format import dumps
from tests.tools.conftest import Databases

FLOATS = [0.1, 1 / 3, 1e-310, -0.0, 0.0, 42.0, -7.0, 1e15, 1e16, 9.999999999999998e15,
          1234567890123456.8, 123456789012345.67, 1e-5, 0.0001, 2.5e-7, 1.7976931348623157e308,
          5e-324, float("inf"), float("-inf"), float("nan"), 12.5, 100.0, None]  # fmt: skip
STRINGS = ['Rad 1\nRad 2 med "citat", \\ och 🩺 – åäö', "\x01\x08\x0c\x1f\x7f\t\r", "\u2028\u2029",
           "", "'; DROP TABLE x; --", "null", None]  # fmt: skip
MOMENTS = [
    dt.datetime(2026, 11, 23, 9, 30, 12, 345678, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 23, 9, 30, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 23, 9, 30, 12, 120000, tzinfo=dt.UTC),
    dt.datetime(2026, 6, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    None,
]
JSONS = ['{"enheter": ["vgr-vc-majorna", "Sjukhus i Skåne"], "n": 1.5}', "null", "[]", None]


def test_postgresql_writes_the_lines_python_writes(databases: Databases) -> None:
    engine = make_engine(databases.url("postgresql", "lines"))
    table = Table(
        "awkward",
        MetaData(),
        Column("id", sa.Integer, primary_key=True),
        Column("big", sa.BigInteger),
        Column("flag", sa.Boolean),
        Column("value", sa.Float),
        Column("text", sa.Text),
        Column("name", sa.String(40)),
        Column("at", UTCDateTime()),
        Column("on", sa.Date),
        Column("doc", sa.JSON),
        Column("blob", sa.LargeBinary),
    )
    rows = []
    for i in range(max(len(FLOATS), len(STRINGS), len(MOMENTS), len(JSONS))):
        rows.append({
            "id": i + 1,
            "big": [2**62, -1, 0, None][i % 4],
            "flag": [True, False, None][i % 3],
            "value": FLOATS[i % len(FLOATS)],
            "text": STRINGS[i % len(STRINGS)],
            "name": ["Region Västra Götaland", None][i % 2],
            "at": MOMENTS[i % len(MOMENTS)],
            "on": [dt.date(2026, 12, 5), dt.date(1, 1, 1), None][i % 3],
            "doc": JSONS[i % len(JSONS)],
            "blob": [b"\x00\xff" * 100, b"", None][i % 3],
        })  # fmt: skip
    try:
        with engine.begin() as conn:
            table.create(conn)
            # JSON goes in as its text, as the import writes it
            conn.execute(
                sa.insert(table).values(doc=sa.cast(sa.bindparam("doc", type_=sa.Text), sa.JSON)),
                rows,
            )
        columns = [sa.cast(c, sa.Text) if kind(c) == "json" else c for c in table.columns]
        with engine.begin() as conn:
            conn.exec_driver_sql(pg_lines.SETTINGS)
            written = (
                conn.exec_driver_sql(
                    pg_lines.statement(table, conn.dialect.identifier_preparer.quote)
                )
                .scalars()
                .all()
            )
            read = conn.execute(sa.select(*columns).order_by(table.c.id)).all()
        expected = [
            dumps([table.name, [
                None if v is None else ENCODERS[kind(c)](v)
                for c, v in zip(table.columns, row, strict=True)
            ]])
            for row in read
        ]  # fmt: skip
        assert len(written) == len(rows)
        for ours, python in zip(written, expected, strict=True):
            assert ours == python
        assert any(math.isnan(v) for v in FLOATS if v is not None)  # the awkward ones are in
    finally:
        engine.dispose()
