"""Indexes for the lists (the knowledge supports' type-and-state index gains the due date): cases by owner, region and assignee with type, state and due date
(the inbox and visibility read them without touching rows), and by knowledge support with
type, region and state (the overview's counts). They replace the single-column indexes on
owner_id, region_id and knowledge_support_id, which are their prefixes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        # With the due date: overdue knowledge supports are read from the index alone.
        batch_op.drop_index("ix_cases_type_state")
        batch_op.create_index("ix_cases_type_state", ["type", "state", "due"])
        batch_op.create_index("ix_cases_owner", ["owner_id", "type", "state", "due"])
        batch_op.create_index("ix_cases_region", ["region_id", "type", "state", "due"])
        batch_op.create_index(
            "ix_cases_knowledge_support", ["knowledge_support_id", "type", "region_id", "state"]
        )
        batch_op.create_index(
            "ix_cases_assignee",
            ["assignee_id", "type", "state", "due"],
            sqlite_where=sa.text("assignee_id IS NOT NULL"),
            postgresql_where=sa.text("assignee_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_cases_owner_id")
        batch_op.drop_index("ix_cases_region_id")
        batch_op.drop_index("ix_cases_knowledge_support_id")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_knowledge_support_id", ["knowledge_support_id"])
        batch_op.create_index("ix_cases_region_id", ["region_id"])
        batch_op.create_index("ix_cases_owner_id", ["owner_id"])
        batch_op.drop_index("ix_cases_assignee")
        batch_op.drop_index("ix_cases_knowledge_support")
        batch_op.drop_index("ix_cases_region")
        batch_op.drop_index("ix_cases_owner")
        batch_op.drop_index("ix_cases_type_state")
        batch_op.create_index("ix_cases_type_state", ["type", "state"])
