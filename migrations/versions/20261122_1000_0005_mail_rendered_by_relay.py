"""Mail is rendered by the relay: the outbox keeps a template and its values, and the three
content columns hold what was sent (empty until then).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=True))
        batch_op.alter_column("subject", existing_type=sa.String(length=300), nullable=True)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Mails still waiting have no body yet: render them before the columns become required.
    from kflow.mailing.messages import render

    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("template", sa.String),
        sa.column("context", sa.JSON),
        sa.column("subject", sa.String),
        sa.column("body_text", sa.Text),
        sa.column("body_html", sa.Text),
    )
    conn = op.get_bind()
    waiting = conn.execute(
        sa.select(outbox.c.id, outbox.c.template, outbox.c.context).where(
            outbox.c.body_text.is_(None)
        )
    ).all()
    for mail_id, template, context in waiting:
        subject, text, html = render(template, **(context or {}))
        conn.execute(
            outbox.update()
            .where(outbox.c.id == mail_id)
            .values(subject=subject[:300], body_text=text, body_html=html)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.String(length=300), nullable=False)
        batch_op.drop_column("context")
        batch_op.drop_column("template")
