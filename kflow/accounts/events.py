"""The account history: every change to an account is one append-only ``AccountEvent``.

Callers record the change in the same transaction as the change itself, so the history never
holds a change that was rolled back, nor misses one that was committed.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.accounts.models import AccountEvent
from kflow.db import utcnow
from kflow.org.models import User


class AccountEventKind(enum.StrEnum):
    CREATED = "created"
    CREATED_BY_SSO = "created_by_sso"
    RENAMED = "renamed"
    EMAIL_CHANGED = "email_changed"
    HSA_ID_SET = "hsa_id_set"
    DEACTIVATED = "deactivated"
    ACTIVATED = "activated"
    PASSWORD_SET = "password_set"  # noqa: S105 (an event kind)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event kind)
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 (an event kind)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event kind)
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    TOKEN_CREATED = "token_created"  # noqa: S105 (an event kind)
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 (an event kind)
    CALENDAR_FEED_CREATED = "calendar_feed_created"
    CALENDAR_FEED_REVOKED = "calendar_feed_revoked"


LABELS: dict[str, str] = {
    AccountEventKind.CREATED: "Kontot skapades",
    AccountEventKind.CREATED_BY_SSO: "Kontot skapades vid första inloggningen via SSO",
    AccountEventKind.RENAMED: "Namnet ändrades",
    AccountEventKind.EMAIL_CHANGED: "E-postadressen ändrades",
    AccountEventKind.HSA_ID_SET: "HSA-id sattes",
    AccountEventKind.DEACTIVATED: "Kontot inaktiverades",
    AccountEventKind.ACTIVATED: "Kontot aktiverades",
    AccountEventKind.PASSWORD_SET: "Lösenordet sattes av en administratör",
    AccountEventKind.PASSWORD_CHANGED: "Lösenordet byttes",
    AccountEventKind.PASSWORD_RESET_REQUESTED: "Länk för nytt lösenord skickades",
    AccountEventKind.PASSWORD_RESET: "Nytt lösenord sattes via länk",
    AccountEventKind.ROLE_GRANTED: "Roll tilldelades",
    AccountEventKind.ROLE_REVOKED: "Roll togs bort",
    AccountEventKind.SIGNED_OUT_EVERYWHERE: "Utloggad överallt",
    AccountEventKind.TOKEN_CREATED: "API-nyckel skapades",
    AccountEventKind.TOKEN_REVOKED: "API-nyckel återkallades",
    AccountEventKind.CALENDAR_FEED_CREATED: "Kalenderlänk skapades",
    AccountEventKind.CALENDAR_FEED_REVOKED: "Kalenderlänk återkallades",
}

# Who did it when it was not a signed-in person.
SYSTEM = "kflow"
CLI = "cli"


def record(
    session: Session,
    user: User,
    kind: AccountEventKind,
    actor: User | str,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AccountEvent:
    """Append one event to ``user``'s account history (in the caller's transaction)."""
    if user.id is None:
        session.flush()  # a user created in this transaction needs its id
    event = AccountEvent(
        user_id=user.id,
        kind=str(kind),
        actor_id=actor.id if isinstance(actor, User) else None,
        actor=actor.email if isinstance(actor, User) else actor,
        at=at or utcnow(),
        detail=dict(detail or {}),
    )
    session.add(event)
    return event


def history(session: Session, user_id: int, limit: int = 500) -> list[AccountEvent]:
    """The user's account history, newest first."""
    return list(
        session.scalars(
            select(AccountEvent)
            .where(AccountEvent.user_id == user_id)
            .order_by(AccountEvent.id.desc())
            .limit(limit)
        )
    )
