"""Accounts a region can run (issue 18): a user's HSA-id (single sign-on may match on it) and
last log-in; when a signed-in session was last seen (the idle timeout) and how it signed in;
single-use password-reset links (only their SHA-256 is kept); and ``account_events``, the
append-only history of every change to an account (database triggers refuse UPDATE and DELETE,
and on PostgreSQL TRUNCATE, as for the case history, 0003 and 0004).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kflow.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("hsa_id", sa.String(length=64), nullable=True))
    op.add_column(
        "users", sa.Column("last_login_at", kflow.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_users_hsa_id", "users", ["hsa_id"], unique=True)
    op.add_column(
        "sign_in_sessions",
        sa.Column("last_seen_at", kflow.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "sign_in_sessions",
        sa.Column("method", sa.String(length=16), server_default="password", nullable=False),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", kflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(
        op.f("ix_password_resets_user_id"), "password_resets", ["user_id"], unique=False
    )
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_events_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_account_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_events")),
    )
    op.create_index("ix_account_events_user", "account_events", ["user_id", "id"], unique=False)
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # kflow_rows_are_append_only() is 0016's.
        op.execute(
            """
            CREATE TRIGGER account_events_append_only
            BEFORE UPDATE OR DELETE ON account_events
            FOR EACH ROW EXECUTE FUNCTION kflow_rows_are_append_only()
            """
        )
        op.execute(
            """
            CREATE TRIGGER account_events_no_truncate
            BEFORE TRUNCATE ON account_events
            FOR EACH STATEMENT EXECUTE FUNCTION kflow_rows_are_append_only()
            """
        )
        return
    for op_name in ("UPDATE", "DELETE"):
        op.execute(
            f"""
            CREATE TRIGGER account_events_no_{op_name.lower()}
            BEFORE {op_name} ON account_events
            BEGIN
                SELECT RAISE(ABORT, 'account_events is append-only: {op_name} refused');
            END
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER account_events_no_truncate ON account_events")
        op.execute("DROP TRIGGER account_events_append_only ON account_events")
    else:
        op.execute("DROP TRIGGER account_events_no_update")
        op.execute("DROP TRIGGER account_events_no_delete")
    op.drop_index("ix_account_events_user", table_name="account_events")
    op.drop_table("account_events")
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    # In place on SQLite too (rebuilding the tables would break the foreign keys to them).
    op.execute("ALTER TABLE sign_in_sessions DROP COLUMN method")
    op.execute("ALTER TABLE sign_in_sessions DROP COLUMN last_seen_at")
    op.drop_index("ix_users_hsa_id", table_name="users")
    op.execute("ALTER TABLE users DROP COLUMN last_login_at")
    op.execute("ALTER TABLE users DROP COLUMN hsa_id")
