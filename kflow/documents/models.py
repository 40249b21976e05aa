"""The tables of attachments and comments. Both are only ever inserted (on both engines
database triggers refuse UPDATE and DELETE, migration 0016)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kflow.db import Base, utcnow


class Attachment(Base):
    """A file attached to a knowledge support; its bytes are in the file store under sha256."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The uploader's e-mail at the time, as the history keeps its actors.
    uploaded_by: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(32))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseComment(Base):
    """A comment on a case by someone who may read it; it changes nothing else."""

    __tablename__ = "case_comments"
    __table_args__ = (Index("ix_case_comments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    comment: Mapped[str] = mapped_column(Text)
