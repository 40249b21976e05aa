"""Lists at national size (issue 19): ``ix_cases_region_due`` (region, type, due, id) over the
cases with a due date, so that each part of Försenade reads its region's cases of a type in due
order and stops after one page, instead of sorting every overdue case of the region; and
``ix_cases_ks_published`` / ``ix_cases_ks_unpublished``, the knowledge supports Översikt pages
through and counts, newest first, without reading the millions of other cases' rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_region_due",
        "cases",
        ["region_id", "type", "due", "id"],
        unique=False,
        sqlite_where=sa.text("due IS NOT NULL"),
        postgresql_where=sa.text("due IS NOT NULL"),
    )
    for name, where in (
        ("ix_cases_ks_published", "published_version IS NOT NULL"),
        ("ix_cases_ks_unpublished", "published_version IS NULL"),
    ):
        predicate = sa.text(f"type = 'knowledge_support' AND {where}")
        op.create_index(name, "cases", ["id"], sqlite_where=predicate, postgresql_where=predicate)


def downgrade() -> None:
    op.drop_index("ix_cases_ks_unpublished", table_name="cases")
    op.drop_index("ix_cases_ks_published", table_name="cases")
    op.drop_index("ix_cases_region_due", table_name="cases")
