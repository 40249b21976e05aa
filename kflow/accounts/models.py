"""Accounts' tables: API tokens, failed sign-ins and signed-in sessions, kept in the database
so every web worker process counts the same attempts and a session ends everywhere at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kflow.db import Base, utcnow
from kflow.org.models import User


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


class SignInSession(Base):
    """One signed-in browser session. The cookie carries the row's id and a secret; the row keeps
    only the secret's SHA-256. Signing out ends the row, so a copy of the cookie stops working
    too; changing the password, or the user being deactivated, ends every session of the user.

    ``client_hash`` binds the session to the client that signed in (an HMAC of its address, as
    the trusted reverse proxies report it, and its User-Agent): a cookie sent by another client
    is not accepted. ``password_tag`` is a tag of the password hash at sign-in: a changed
    password ends the session even where nothing ended it explicitly.
    """

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_hash: Mapped[str] = mapped_column(String(64))
    password_tag: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the session was last used (written at most once a minute): the idle timeout.
    last_seen_at: Mapped[dt.datetime | None]
    # How the user signed in: password or oidc.
    method: Mapped[str] = mapped_column(String(16), default="password", server_default="password")
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Who made the token for the user, when that was someone else (an administrator); null when
    # the user made it (signed in with their password) or an operator did at the command line.
    # Such a token acts only while its minter administers every unit the user holds a role in
    # (kflow.accounts.tokens.authenticate). A token made with a token inherits its minter.
    minted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class CalendarFeed(Base):
    """A user's personal calendar feed (Min inkorg's due dates as iCalendar). The feed's URL
    carries a secret; the row keeps only its SHA-256. Revoking it (or making a new one, which
    revokes the old) makes the old URL answer 410 Gone."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class PasswordReset(Base):
    """A "Glömt lösenord?" link: single use, expiring. The link carries a secret; the row keeps
    only its SHA-256. Using it (or a newer link, or a changed password) ends it."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class AccountEvent(Base):
    """One change to an account, append-only (database triggers refuse UPDATE and DELETE):
    created, renamed, deactivated, activated, password set or reset, a role granted or revoked,
    signed out everywhere, created by single sign-on. ``actor`` is who did it (an e-mail, or
    "kflow" for the system and "cli" for an operator at the command line); ``detail`` holds
    what changed (old and new name, the role and unit, ...), never a secret."""

    __tablename__ = "account_events"
    __table_args__ = (Index("ix_account_events_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
