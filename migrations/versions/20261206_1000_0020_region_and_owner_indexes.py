"""Lists at national size, continued (issue 19): ``ix_cases_region`` gains the case id, so Min
inkorg lists a region's cases of a state (6,000 local implementations in deviation for VGR at
3.1 million cases) from the index alone; and ``ix_cases_ks_owner`` (owner, id) over the
knowledge supports, which visibility asks for by owner (the supports a person's units own)
and PostgreSQL otherwise found by reading every knowledge support.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUPPORT = sa.text("type = 'knowledge_support'")


def upgrade() -> None:
    op.drop_index("ix_cases_region", table_name="cases")
    op.create_index("ix_cases_region", "cases", ["region_id", "type", "state", "due", "id"])
    op.create_index(
        "ix_cases_ks_owner",
        "cases",
        ["owner_id", "id"],
        sqlite_where=_SUPPORT,
        postgresql_where=_SUPPORT,
    )


def downgrade() -> None:
    op.drop_index("ix_cases_ks_owner", table_name="cases")
    op.drop_index("ix_cases_region", table_name="cases")
    op.create_index("ix_cases_region", "cases", ["region_id", "type", "state", "due"])
