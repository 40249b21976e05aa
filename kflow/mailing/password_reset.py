"""The "Glömt lösenord?" mail: a new single-use link (kflow.accounts.passwords) queued in the
outbox like every other mail, so it is sent by the relay, exactly once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from kflow.accounts import passwords
from kflow.config import Settings
from kflow.mailing.outbox import Mail, enqueue
from kflow.org.models import User


def send_link(session: Session, settings: Settings, user: User, now: dt.datetime) -> str:
    """Make a reset link for ``user`` and queue its mail; the secret (never shown: it goes
    only into the mail)."""
    row, secret = passwords.new_link(session, settings, user, now)
    context = {
        "name": user.name,
        "url": passwords.reset_url(settings, secret),
        "minutes": settings.login.reset_link_minutes,
    }
    enqueue(
        session, settings, [Mail(f"password_reset:{row.id}", user.email, "password_reset", context)]
    )
    return secret
