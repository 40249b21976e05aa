"""Signed-in browser sessions, kept in the database (kflow.accounts.models.SignInSession).

The session cookie (signed by Flask, not secret from its holder) carries ``<id>.<secret>``; the
row keeps the secret's SHA-256. A session is accepted while its row has not ended, the secret
matches, the request comes from the client that signed in (its address, as the trusted reverse
proxies report it, and its User-Agent), the user is active, the password is the one signed
in with, and it is neither idle (no request for ``idle_minutes``) nor older than
``absolute_hours``. Signing out ends the row, so every copy of the cookie stops working at once.

A session's last use (``last_seen_at``, which the idle timeout reads) is written at most once a
minute (``TOUCH_RESOLUTION``), after the request and in a transaction of its own, so reading a
page never needs the write lock for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kflow.accounts.models import SignInSession
from kflow.config import LoginSettings
from kflow.org.models import User

# last_seen_at is written at most this often per session.
TOUCH_RESOLUTION = dt.timedelta(minutes=1)
IDLE, EXPIRED = "idle", "expired"


def client_hash(secret_key: str, address: str, user_agent: str | None) -> str:
    """Who is asking, as a session remembers it: an HMAC of the client's address and agent."""
    message = f"{address}|{user_agent or ''}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def password_tag(user: User) -> str:
    """A short tag of the user's password hash: it changes whenever the password does."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Resumed:
    """A session accepted for this request: its user and the cookie value that names it."""

    user: User
    session_id: int
    cookie_value: str
    # The session's last use is older than TOUCH_RESOLUTION: record this one (touch).
    needs_touch: bool = False


@dataclasses.dataclass(frozen=True)
class TimedOut:
    """A session that was valid but ran out: ``reason`` is IDLE or EXPIRED (its absolute
    lifetime is over). It is to be ended with that reason."""

    session_id: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Lifetime:
    """How long a session lasts: without a request (idle), and at most (absolute)."""

    idle: dt.timedelta
    absolute: dt.timedelta

    @classmethod
    def of(cls, settings: LoginSettings) -> Lifetime:
        return cls(
            dt.timedelta(minutes=settings.idle_minutes),
            dt.timedelta(hours=settings.absolute_hours),
        )

    def ran_out(self, row: SignInSession, now: dt.datetime) -> str | None:
        """IDLE or EXPIRED if the session ran out by ``now``, else None."""
        if row.created_at <= now - self.absolute:
            return EXPIRED
        if (row.last_seen_at or row.created_at) <= now - self.idle:
            return IDLE
        return None


def start(
    session: Session, user: User, client: str, now: dt.datetime, method: str = "password"
) -> str:
    """Begin a session for ``user`` from ``client`` (client_hash), signed in by ``method``
    (password or oidc), and note the user's last log-in; the cookie value to keep."""
    secret = secrets.token_urlsafe(32)
    row = SignInSession(
        user_id=user.id,
        secret_hash=_secret_hash(secret),
        client_hash=client,
        password_tag=password_tag(user),
        created_at=now,
        last_seen_at=now,
        method=method,
    )
    # By statement: the sign-in read the user in a read transaction of its own (kflow.web.ui.auth),
    # so ``user`` may belong to no session, and setting the attribute alone would save nothing.
    session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    user.last_login_at = now
    session.add(row)
    session.flush()  # generate row.id for the cookie
    return f"{row.id}.{secret}"


def parse(cookie_value: str | None) -> tuple[int, str] | None:
    """The session id and secret of a cookie value, or None if it is not one of ours."""
    raw_id, _, secret = (cookie_value or "").partition(".")
    if not raw_id.isdigit() or len(raw_id) > 18 or not secret:
        return None
    return int(raw_id), secret


def resume(
    session: Session,
    cookie_value: str | None,
    client: str,
    lifetime: Lifetime,
    now: dt.datetime,
) -> Resumed | TimedOut | None:
    """The session the cookie names, if it may go on (one query); TimedOut if it was valid
    but is idle or too old (the caller ends it); None otherwise."""
    parsed = parse(cookie_value)
    if parsed is None:
        return None
    session_id, secret = parsed
    found = session.execute(
        select(SignInSession, User)
        .join(User, User.id == SignInSession.user_id)
        .where(SignInSession.id == session_id)
    ).first()
    if found is None:
        return None
    row, user = found
    if (
        row.ended_at is not None
        or not hmac.compare_digest(row.secret_hash, _secret_hash(secret))
        or not hmac.compare_digest(row.client_hash, client)
        or not user.is_active
        or row.password_tag != password_tag(user)
    ):
        return None
    reason = lifetime.ran_out(row, now)
    if reason is not None:
        return TimedOut(row.id, reason)
    last_seen = row.last_seen_at or row.created_at
    return Resumed(user, row.id, f"{row.id}.{secret}", last_seen <= now - TOUCH_RESOLUTION)


def touch(session: Session, session_id: int, now: dt.datetime) -> None:
    """Record a use of the session, unless one was recorded in the last minute."""
    session.execute(
        update(SignInSession)
        .where(
            SignInSession.id == session_id,
            SignInSession.ended_at.is_(None),
            or_(
                SignInSession.last_seen_at.is_(None),
                SignInSession.last_seen_at < now - TOUCH_RESOLUTION,
            ),
        )
        .values(last_seen_at=now)
    )


def retag(session: Session, session_id: int, user: User) -> None:
    """Keep one session going through a password change (the user changed it in that very
    session): it is tagged with the new password."""
    session.execute(
        update(SignInSession)
        .where(SignInSession.id == session_id)
        .values(password_tag=password_tag(user))
    )


def end(session: Session, session_id: int, reason: str, now: dt.datetime) -> None:
    """End one session (signing out): every copy of its cookie stops working."""
    session.execute(
        update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_all(
    session: Session, user_id: int, reason: str, now: dt.datetime, keep: int | None = None
) -> int:
    """End every open session of the user (but ``keep``, if given); the number ended."""
    result = session.execute(
        update(SignInSession)
        .where(
            SignInSession.user_id == user_id,
            SignInSession.ended_at.is_(None),
            SignInSession.id != (keep if keep is not None else -1),
        )
        .values(ended_at=now, end_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, user_id: int, lifetime: Lifetime, now: dt.datetime) -> int:
    """How many sessions of the user are open (not ended and not run out)."""
    count = session.scalar(
        select(func.count())
        .select_from(SignInSession)
        .where(
            SignInSession.user_id == user_id,
            SignInSession.ended_at.is_(None),
            SignInSession.created_at > now - lifetime.absolute,
            func.coalesce(SignInSession.last_seen_at, SignInSession.created_at)
            > now - lifetime.idle,
        )
    )
    return int(count or 0)
