"""History is append-only: on PostgreSQL a trigger refuses UPDATE and DELETE of case_events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION kflow_history_is_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            """
            CREATE TRIGGER case_events_append_only
            BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION kflow_history_is_append_only()
            """
        )
    else:
        # SQLite: the same promise with RAISE(ABORT) triggers.
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER case_events_no_{op_name.lower()}
                BEFORE {op_name} ON case_events
                BEGIN
                    SELECT RAISE(ABORT, 'case_events is append-only: {op_name} refused');
                END
                """
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_events_append_only ON case_events")
        op.execute("DROP FUNCTION kflow_history_is_append_only()")
    else:
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("DROP TRIGGER case_events_no_delete")
