"""Failed sign-ins, for throttling log-in attempts across worker processes; on PostgreSQL the
history also refuses TRUNCATE (0003's row triggers do not fire on it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kflow.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # SQLite has no TRUNCATE (a DELETE without WHERE still fires 0003's triggers there).
        op.execute(
            """
            CREATE TRIGGER case_events_no_truncate
            BEFORE TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION kflow_history_is_append_only()
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_events_no_truncate ON case_events")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
        batch_op.drop_index("ix_login_failures_key_at")
    op.drop_table("login_failures")
