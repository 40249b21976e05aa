"""Signed-in browser sessions, kept in the database (kflow.accounts.models.SignInSession).

The session cookie (signed by Flask, not secret from its holder) carries ``<id>.<secret>``; the
row keeps the secret's SHA-256. A session is accepted while its row has not ended, the secret
matches, the request comes from the client that signed in (its address, as the trusted reverse
proxies report it, and its User-Agent), the user is active and the password is the one signed
in with. Signing out ends the row, so every copy of the cookie stops working at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kflow.accounts.models import SignInSession
from kflow.org.models import User


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


def resume(session: Session, cookie_value: str | None, client: str) -> Resumed | None:
    """The session the cookie names, if it may go on (one query); None otherwise."""
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
    return Resumed(user, row.id, f"{row.id}.{secret}")


def end(session: Session, session_id: int, reason: str, now: dt.datetime) -> None:
    """End one session (signing out): every copy of its cookie stops working."""
    session.execute(
        update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_all(session: Session, user_id: int, reason: str, now: dt.datetime) -> int:
    """End every open session of the user; the number ended."""
    result = session.execute(
        update(SignInSession)
        .where(SignInSession.user_id == user_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)
