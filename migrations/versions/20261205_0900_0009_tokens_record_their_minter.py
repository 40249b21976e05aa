"""API tokens record who made them for the user (an administrator), so a token acts only
within its minter's reach.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minted_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_minted_by_id"), ["minted_by_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_minted_by_id_users"),
            "users",
            ["minted_by_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_minted_by_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_minted_by_id"))
        batch_op.drop_column("minted_by_id")
