"""The basis of a decision (issue 17): a knowledge support's document link
(``cases.document_url``), attachments of knowledge supports and regional adaptations (the bytes
in the file store, ``attachments.dir``) and comments on any case. Attachments and comments are
append-only: database triggers refuse UPDATE and DELETE, as for the history (0003).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kflow.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("attachments", "case_comments")


def upgrade() -> None:
    op.add_column("cases", sa.Column("document_url", sa.String(length=2000), nullable=True))
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("uploaded_at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_attachments_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_case", "attachments", ["case_id", "id"], unique=False)
    op.create_table(
        "case_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("at", kflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_comments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_case_comments_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_comments")),
    )
    op.create_index("ix_case_comments_case", "case_comments", ["case_id", "id"], unique=False)
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION kflow_rows_are_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in TABLES:
            op.execute(
                f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION kflow_rows_are_append_only()
                """
            )
        return
    for table in TABLES:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER {table}_no_{op_name.lower()}
                BEFORE {op_name} ON {table}
                BEGIN
                    SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused');
                END
                """
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    if postgresql:
        op.execute("DROP FUNCTION kflow_rows_are_append_only()")
    op.drop_index("ix_case_comments_case", table_name="case_comments")
    op.drop_table("case_comments")
    op.drop_index("ix_attachments_case", table_name="attachments")
    op.drop_table("attachments")
    # In place on SQLite too (rebuilding ``cases`` would break the foreign keys to it).
    op.execute("ALTER TABLE cases DROP COLUMN document_url")
