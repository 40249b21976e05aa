"""Indikatorlistor (lifecycle.md §6.3): the indicator_list case type (its columns on cases, its
states in the state check, no knowledge support above it) and its targets (måltal).

On SQLite the two checks are rewritten in the table's stored definition (see _sqlite_checks).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATE = "(type = 'knowledge_support' AND state IN ('need_identified', 'commissioned', 'drafting', 'review', 'consultation', 'revising', 'awaiting_approval', 'published', 'withdrawn', 'cancelled')) OR (type = 'consultation_response' AND state IN ('requested', 'drafting', 'submitted', 'declined', 'missed', 'cancelled')) OR (type = 'regional_adaptation' AND state IN ('received', 'assessing', 'on_hold', 'awaiting_decision', 'adopted', 'not_adopted', 'adapting', 'implementing', 'following_up', 'closed', 'cancelled')) OR (type = 'local_implementation' AND state IN ('assigned', 'acknowledged', 'implementing', 'implemented', 'following_up', 'deviation', 'closed', 'waived', 'cancelled'))"
NEW_STATE = OLD_STATE + (
    " OR (type = 'indicator_list' AND state IN "
    "('drafting', 'submitted', 'approved', 'closed', 'cancelled'))"
)
OLD_PARENT = "type = 'knowledge_support' OR knowledge_support_id IS NOT NULL"
NEW_PARENT = (
    "type NOT IN ('consultation_response', 'regional_adaptation', 'local_implementation') "
    "OR knowledge_support_id IS NOT NULL"
)


def _checks(old: tuple[str, str], new: tuple[str, str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_checks(old, new)
        return
    op.drop_constraint(op.f("ck_cases_state"), "cases", type_="check")
    op.drop_constraint(op.f("ck_cases_parent"), "cases", type_="check")
    op.create_check_constraint("state", "cases", new[0])
    op.create_check_constraint("parent", "cases", new[1])


def _sqlite_checks(old: tuple[str, str], new: tuple[str, str]) -> None:
    """Rewrite the two CHECKs in the table's stored definition, as SQLite documents for
    changes that leave the stored rows valid (lang_altertable.html, "other kinds of table
    schema changes"): rebuilding ``cases`` would break every foreign key that points at it."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cases'"
    ).scalar_one()
    for before, after in zip(old, new, strict=True):
        assert sql.count(f"CHECK ({before})") == 1, before
        sql = sql.replace(f"CHECK ({before})", f"CHECK ({after})")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'cases'", (sql,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


LIVE_LIST = sa.text("type = 'indicator_list' AND state <> 'cancelled'")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("closes_on", sa.Date(), nullable=True))
    _checks((OLD_STATE, OLD_PARENT), (NEW_STATE, NEW_PARENT))
    op.create_table(
        "indicator_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("target_value", sa.Double(), nullable=False),
        sa.Column("tolerance_pct", sa.Double(), nullable=True),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "tolerance_pct IS NULL OR (tolerance_pct >= 0 AND tolerance_pct <= 100)",
            name=op.f("ck_indicator_targets_tolerance"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_indicator_targets_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_indicator_targets_indicator_id_indicators"),
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"], ["units.id"], name=op.f("fk_indicator_targets_responsible_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_indicator_targets_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_targets")),
        sa.UniqueConstraint(
            "case_id",
            "indicator_id",
            "unit_id",
            name=op.f("uq_indicator_targets_case_id_indicator_id_unit_id"),
        ),
    )
    with op.batch_alter_table("indicator_targets") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_targets_indicator_id"), ["indicator_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_indicator_targets_unit_id"), ["unit_id"], unique=False)
    op.create_index(
        "ux_cases_list_year_scope",
        "cases",
        ["owner_id", "year", "scope"],
        unique=True,
        sqlite_where=LIVE_LIST,
        postgresql_where=LIVE_LIST,
    )


def downgrade() -> None:
    op.drop_index("ux_cases_list_year_scope", table_name="cases")
    op.drop_table("indicator_targets")
    # Refused (the state check fails) while indicator lists exist: their history is kept.
    _checks((NEW_STATE, NEW_PARENT), (OLD_STATE, OLD_PARENT))
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("closes_on")
        batch_op.drop_column("scope")
        batch_op.drop_column("year")
