"""Reminder rungs, per-recipient notifications and the mail outbox.

The database decides what has been sent: a rung is fired once per (case, due date, rung) by a
unique constraint, and a mail exists once per idempotency key. Schedulers only look for work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kflow.db import Base, utcnow

RUNGS = ("upcoming", "due", "overdue", "escalated")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class Reminder(Base):
    """One rung of the reminder ladder, fired for one case and due date."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("case_id", "due", "rung"),
        CheckConstraint(f"rung IN {RUNGS!r}", name="rung"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    due: Mapped[dt.date]
    rung: Mapped[str] = mapped_column(String(16))
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """A rung addressed to one person, waiting for (or included in) their daily digest."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("reminder_id", "user_id"),
        Index("ix_notifications_pending", "user_id", "digest_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The idempotency key of the digest mail that carried it; NULL while waiting.
    digest_key: Mapped[str | None] = mapped_column(String(200))


class OutboxMail(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(250))
    to_addr: Mapped[str] = mapped_column(String(320))
    # What to write: a template under kflow/templates/mail and its values, fixed when the mail
    # is queued. The relay renders it when it sends and keeps what it sent in the three columns
    # after (empty until then), so a template problem never holds up the click that queued it.
    template: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[dict[str, Any] | None]
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    def content(self) -> tuple[str, str, str]:
        """(subject, text, html): as sent, or rendered now from the template if not sent yet."""
        if self.body_text is not None and self.body_html is not None and self.subject is not None:
            return self.subject, self.body_text, self.body_html
        from kflow.mailing.messages import render

        assert self.template is not None, f"outbox row {self.id} has neither body nor template"
        subject, text, html = render(self.template, **(self.context or {}))
        return subject[:300], text, html
