"""Personal calendar feeds: a secret URL per user that serves the due dates of their inbox as
iCalendar (kflow.web.ui.calendar_feed). Only the secret's SHA-256 is stored; the secret is shown
once, when the feed is made. A user has at most one live feed: making a new one revokes the old.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

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


def revoke(session: Session, user_id: int) -> int:
    """Revoke the user's live feed; how many were revoked (0 or 1)."""
    result = session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def create(session: Session, user_id: int) -> str:
    """A new feed for the user (the old one revoked); its secret, to be shown once."""
    revoke(session, user_id)
    secret = PREFIX + secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=user_id, token_hash=hash_secret(secret)))
    session.flush()
    return secret


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
