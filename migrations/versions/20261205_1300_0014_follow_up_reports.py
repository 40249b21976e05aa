"""Follow-up reports (lifecycle.md §6.6): the follow_up_report case type (its columns on cases,
its states in the state check), the unit a case reports to (``recipient_id``, with an index for
the recipient's inbox) and one report per unit and period.

On SQLite the state check is rewritten in the table's stored definition, and the foreign key
column is added with a plain ADD COLUMN (rebuilding ``cases`` would break every foreign key that
points at it; see 0011 and 0013).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATE = "(type = 'knowledge_support' AND state IN ('need_identified', 'commissioned', 'drafting', 'review', 'consultation', 'revising', 'awaiting_approval', 'published', 'withdrawn', 'cancelled')) OR (type = 'consultation_response' AND state IN ('requested', 'drafting', 'submitted', 'declined', 'missed', 'cancelled')) OR (type = 'regional_adaptation' AND state IN ('received', 'assessing', 'on_hold', 'awaiting_decision', 'adopted', 'not_adopted', 'adapting', 'implementing', 'following_up', 'closed', 'cancelled')) OR (type = 'local_implementation' AND state IN ('assigned', 'acknowledged', 'implementing', 'implemented', 'following_up', 'deviation', 'closed', 'waived', 'cancelled'))"
OLD_STATE += (
    " OR (type = 'indicator_list' AND state IN "
    "('drafting', 'submitted', 'approved', 'closed', 'cancelled'))"
)
NEW_STATE = OLD_STATE + (
    " OR (type = 'follow_up_report' AND state IN "
    "('open', 'submitted', 'accepted', 'waived', 'missed'))"
)
RECIPIENT_FK = " CONSTRAINT fk_cases_recipient_id_units REFERENCES units (id)"
REPORT = sa.text("type = 'follow_up_report'")
HAS_RECIPIENT = sa.text("recipient_id IS NOT NULL")


def _state_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite([(f"CHECK ({old})", f"CHECK ({new})")])
        return
    op.drop_constraint(op.f("ck_cases_state"), "cases", type_="check")
    op.create_check_constraint("state", "cases", new)


def _rewrite_sqlite(changes: list[tuple[str, str]]) -> None:
    """Change the table's stored definition in place, as SQLite documents for changes that
    leave the stored rows valid (lang_altertable.html, "other kinds of table schema changes")."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cases'"
    ).scalar_one()
    for before, after in changes:
        assert sql.count(before) == 1, before
        sql = sql.replace(before, after)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'cases'", (sql,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"ALTER TABLE cases ADD COLUMN recipient_id INTEGER{RECIPIENT_FK}")
    with op.batch_alter_table("cases") as batch_op:
        if not sqlite:
            batch_op.add_column(sa.Column("recipient_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f("fk_cases_recipient_id_units"), "units", ["recipient_id"], ["id"]
            )
        batch_op.add_column(sa.Column("period", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("analysis", sa.Text(), nullable=True))
    _state_check(OLD_STATE, NEW_STATE)
    op.create_index(
        "ix_cases_recipient",
        "cases",
        ["recipient_id", "type", "state", "due"],
        unique=False,
        sqlite_where=HAS_RECIPIENT,
        postgresql_where=HAS_RECIPIENT,
    )
    op.create_index(
        "ux_cases_report_period",
        "cases",
        ["owner_id", "period"],
        unique=True,
        sqlite_where=REPORT,
        postgresql_where=REPORT,
    )


def downgrade() -> None:
    op.drop_index("ux_cases_report_period", table_name="cases")
    op.drop_index("ix_cases_recipient", table_name="cases")
    # Refused (the state check fails) while follow-up reports exist: their history is kept.
    _state_check(NEW_STATE, OLD_STATE)
    if op.get_bind().dialect.name == "sqlite":
        # In place: the constraint first (a column a constraint names cannot be dropped).
        _rewrite_sqlite([(RECIPIENT_FK, "")])
        for column in COLUMNS:
            op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
        return
    op.drop_constraint(op.f("fk_cases_recipient_id_units"), "cases", type_="foreignkey")
    for column in COLUMNS:
        op.drop_column("cases", column)


COLUMNS = ("analysis", "snapshot", "period", "recipient_id")
