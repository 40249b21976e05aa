"""Personal calendar feeds: a secret URL per user that serves the due dates of their inbox as
iCalendar (kflow.web.ui.calendar_feed). Only the secret's SHA-256 is stored; the secret is shown
once, when the feed is made. A user has at most one live feed: making a new one revokes the old.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.events import record
from kflow.accounts.models import CalendarFeed
from kflow.db import utcnow
from kflow.org.models import User

PREFIX = "kal_"


def hash_secret(secret: str) -> str:
    # 256 random bits: a plain SHA-256 makes the stored value useless to a reader of the table.
    return hashlib.sha256(secret.encode()).hexdigest()


def active(session: Session, user_id: int) -> CalendarFeed | None:
    """The user's live feed, if any."""
    return session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
        )
    )


def revoke(session: Session, user_id: int, actor: User | str | None = None) -> int:
    """Revoke the user's live feed; how many were revoked (0 or 1). With ``actor``, an account
    event says so (deactivation records its own)."""
    result = session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if actor is not None and count:
        _record(session, user_id, Kind.CALENDAR_FEED_REVOKED, actor)
    return count


def create(session: Session, user_id: int, actor: User | str | None = None) -> str:
    """A new feed for the user (the old one revoked); its secret, to be shown once. The account
    history records it (``actor``: who, by default the user)."""
    revoke(session, user_id)
    secret = PREFIX + secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=user_id, token_hash=hash_secret(secret)))
    session.flush()
    _record(session, user_id, Kind.CALENDAR_FEED_CREATED, actor)
    return secret


def _record(session: Session, user_id: int, kind: Kind, actor: User | str | None) -> None:
    user = session.get(User, user_id)
    assert user is not None
    record(session, user, kind, actor if actor is not None else user)


def owner(session: Session, secret: str) -> tuple[User | None, bool]:
    """The feed's user (None for an unknown secret or an inactive user) and whether the feed
    was revoked."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None, False
    row = session.execute(
        select(User, CalendarFeed.revoked_at)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == hash_secret(secret))
    ).first()
    if row is None or not row[0].is_active:
        return None, False
    return row[0], row[1] is not None
