"""Failed sign-ins, kept in the database so every web worker process counts the same attempts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kflow.db import Base, utcnow


class LoginFailure(Base):
    """One failed sign-in, counted against an account name and against a client address.

    ``key`` is an HMAC (keyed with the secret key) of "account:<e-mail>" or "address:<ip>",
    so neither the names tried nor the addresses are stored in clear. Rows older than the
    throttling window are deleted whenever a failure is recorded.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
