"""Indicators of a knowledge support or programme unit, periods and append-only measurements (lifecycle.md §6.1, §6.2).

Indicators get an owner unit (instead of a knowledge support), a code, a source and an
aggregation; their direction is renamed ('higher' -> 'higher_is_better'). Measurements are
keyed by (indicator, unit, period): the unit is the reporting unit, the local implementation
becomes an optional link (``case_id``), and a correction appends a row that supersedes the
current one. Existing measurements keep their values; their unit is their implementation's
owner.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kflow.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIRECTION = "direction IN ('higher_is_better', 'lower_is_better')"
SOURCE = "source IN ('kvalitetsregister', 'vården_i_siffror', 'journal', 'manuell')"
AGGREGATION = "aggregation IN ('mean', 'sum', 'ratio')"
ONE_OWNER = "(knowledge_support_id IS NULL) <> (owner_unit_id IS NULL)"
CURRENT = sa.text("superseded_at IS NULL")


# The measurements are moved aside while their tables are rebuilt. SQLite's batch mode rebuilds
# ``indicators`` by copying it and dropping the old table, which would orphan every measurement
# referring to it (a deferred foreign key check would still fail at COMMIT); with no measurement
# rows nothing refers to it. The rows come back, converted, once both tables are rebuilt.
KEEP_UP = (
    "CREATE TABLE measurements_0012 AS SELECT id, indicator_id, implementation_id, period, "
    "value, reported_by_id, reported_at FROM measurements"
)
RESTORE_UP = (  # each existing measurement was made on a local implementation: its owner's
    "INSERT INTO measurements (id, indicator_id, unit_id, case_id, period, value, "
    "reported_by_id, reported_at) SELECT m.id, m.indicator_id, c.owner_id, "
    "m.implementation_id, m.period, m.value, m.reported_by_id, m.reported_at "
    "FROM measurements_0012 m JOIN cases c ON c.id = m.implementation_id"
)
# Back down, only the current value of each (indicator, implementation, period) fits the old
# table, and only a measurement of a knowledge support's indicator made on an implementation.
KEEP_DOWN = (
    "CREATE TABLE measurements_0012 AS SELECT id, indicator_id, case_id, period, value, "
    "reported_by_id, reported_at FROM measurements WHERE superseded_at IS NULL AND case_id IS "
    "NOT NULL AND indicator_id IN (SELECT id FROM indicators WHERE knowledge_support_id IS NOT "
    "NULL)"
)
RESTORE_DOWN = (
    "INSERT INTO measurements (id, indicator_id, implementation_id, period, value, "
    "reported_by_id, reported_at) SELECT id, indicator_id, case_id, period, value, "
    "reported_by_id, reported_at FROM measurements_0012"
)


def upgrade() -> None:
    op.execute(KEEP_UP)
    op.execute("DELETE FROM measurements")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_indicators_direction"), type_="check")
        batch_op.alter_column(
            "direction", existing_type=sa.String(length=8), type_=sa.String(length=16)
        )
        batch_op.alter_column("knowledge_support_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("owner_unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("code", sa.String(length=50), nullable=True))
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="manuell")
        )
        batch_op.add_column(
            sa.Column("aggregation", sa.String(length=8), nullable=False, server_default="mean")
        )
    op.execute(
        "UPDATE indicators SET direction = CASE direction "
        "WHEN 'lower' THEN 'lower_is_better' ELSE 'higher_is_better' END"
    )
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.alter_column("source", existing_type=sa.String(length=20), server_default=None)
        batch_op.alter_column("aggregation", existing_type=sa.String(length=8), server_default=None)
        batch_op.create_check_constraint("direction", DIRECTION)
        batch_op.create_check_constraint("source", SOURCE)
        batch_op.create_check_constraint("aggregation", AGGREGATION)
        batch_op.create_check_constraint("one_owner", ONE_OWNER)
        batch_op.create_unique_constraint(batch_op.f("uq_indicators_code"), ["code"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_indicators_owner_unit_id_name"), ["owner_unit_id", "name"]
        )
        batch_op.create_index(batch_op.f("ix_indicators_owner_unit_id"), ["owner_unit_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_indicators_owner_unit_id_units"), "units", ["owner_unit_id"], ["id"]
        )

    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_measurements_indicator_id_implementation_id_period"), type_="unique"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_measurements_implementation_id_cases"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_measurements_implementation_id"))
        batch_op.alter_column(
            "implementation_id",
            new_column_name="case_id",
            existing_type=sa.Integer(),
            nullable=True,
        )
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("numerator", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("denominator", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("superseded_at", kflow.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_measurements_case_id_cases"), "cases", ["case_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_measurements_unit_id_units"), "units", ["unit_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_measurements_supersedes_id_measurements"),
            "measurements",
            ["supersedes_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_measurements_supersedes_id"), ["supersedes_id"]
        )
        batch_op.create_index(batch_op.f("ix_measurements_case_id"), ["case_id"])
        batch_op.create_index(batch_op.f("ix_measurements_unit_id"), ["unit_id"])
        batch_op.create_index(
            "ux_measurements_current",
            ["indicator_id", "period", "unit_id"],
            unique=True,
            sqlite_where=CURRENT,
            postgresql_where=CURRENT,
        )
    op.execute(RESTORE_UP)
    op.execute("DROP TABLE measurements_0012")


def downgrade() -> None:
    op.execute(KEEP_DOWN)
    op.execute("DELETE FROM measurements")
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_measurements_current", sqlite_where=CURRENT, postgresql_where=CURRENT
        )
        batch_op.drop_index(batch_op.f("ix_measurements_unit_id"))
        batch_op.drop_index(batch_op.f("ix_measurements_case_id"))
        batch_op.drop_constraint(batch_op.f("uq_measurements_supersedes_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_measurements_supersedes_id_measurements"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_measurements_unit_id_units"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_measurements_case_id_cases"), type_="foreignkey")
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("comment")
        batch_op.drop_column("denominator")
        batch_op.drop_column("numerator")
        batch_op.drop_column("unit_id")
        batch_op.alter_column(
            "case_id",
            new_column_name="implementation_id",
            existing_type=sa.Integer(),
            nullable=False,
        )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_measurements_implementation_id_cases"),
            "cases",
            ["implementation_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_measurements_implementation_id"), ["implementation_id"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_measurements_indicator_id_implementation_id_period"),
            ["indicator_id", "implementation_id", "period"],
        )
    op.execute("DELETE FROM indicators WHERE knowledge_support_id IS NULL")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_indicators_owner_unit_id_units"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_indicators_owner_unit_id"))
        batch_op.drop_constraint(batch_op.f("uq_indicators_owner_unit_id_name"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_indicators_code"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_indicators_one_owner"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_indicators_aggregation"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_indicators_source"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_indicators_direction"), type_="check")
        batch_op.drop_column("aggregation")
        batch_op.drop_column("source")
        batch_op.drop_column("code")
        batch_op.drop_column("owner_unit_id")
        batch_op.alter_column("knowledge_support_id", existing_type=sa.Integer(), nullable=False)
    op.execute(
        "UPDATE indicators SET direction = CASE direction "
        "WHEN 'lower_is_better' THEN 'lower' ELSE 'higher' END"
    )
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.alter_column(
            "direction", existing_type=sa.String(length=16), type_=sa.String(length=8)
        )
        batch_op.create_check_constraint("direction", "direction IN ('higher', 'lower')")
    op.execute(RESTORE_DOWN)
    op.execute("DROP TABLE measurements_0012")
