"""A user's remembered *Min region* / *Min enhet* choice of Översikt and Försenade
(``users.overview_scope``: all, region or unit; NULL until the user chooses).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("overview_scope", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("overview_scope")
