"""Drop the index on cases.due alone: every list that reads by due date finds it through an
index that starts with the type, or the unit, then the state (ix_cases_type_state, ix_cases_owner,
ix_cases_region, ix_cases_assignee), and the reminder sweep reads ix_cases_next_reminder_on.
Kept, it was one more index page written by every trigger that moves a due date.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_due")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_due", ["due"])
