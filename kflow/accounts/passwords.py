"""A user's own password: changing it (Mitt konto) and "Glömt lösenord?" (a link by mail).

**Changing** needs the current password and the new one twice. Every other session of the user
ends; the one the change was made in goes on, tagged with the new password (kflow.accounts.
signin.retag). Unused reset links end too.

**Resetting.** Asking for a link for an address never tells whether an account has it: the
caller answers the same either way. For an active user who has a password, a link is made: a
256-bit secret in the link, only its SHA-256 stored, working for ``reset_link_minutes``; the
user's earlier unused links end. The mail goes through the outbox like all other mail
(kflow.mailing.password_reset).
Using the link sets the password once: the row is claimed by a conditional UPDATE (``WHERE
used_at IS NULL``), so of two uses at the same time at most one wins; then every session of
the user ends.

Every change is recorded in the account history (kflow.accounts.events), never the password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from kflow.accounts import signin
from kflow.accounts.events import SYSTEM, record
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.models import PasswordReset
from kflow.config import Settings
from kflow.errors import KflowError, ValidationError
from kflow.org import users as org_users
from kflow.org.models import User

MIN_LENGTH = 8
MAX_LENGTH = 1000  # a password is hashed; no reason to hash a megabyte
TOO_SHORT = f"Lösenordet måste ha minst {MIN_LENGTH} tecken."
TOO_LONG = f"Lösenordet får ha högst {MAX_LENGTH} tecken."
NOT_SAME = "Lösenorden är inte likadana. Skriv samma nya lösenord två gånger."
WRONG_CURRENT = "Det nuvarande lösenordet stämmer inte."
FILL_IN_CURRENT = "Skriv ditt nuvarande lösenord."
LINK_GONE = "Länken har redan använts eller gått ut."


class PasswordProblems(ValidationError):
    """A password form with problems at its fields: ``fields`` maps a field to its message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(" ".join(fields.values()))
        self.fields = dict(fields)


class LinkGone(KflowError):
    """The reset link is unknown, used, ended by a newer one, or expired."""

    code, status = "gone", 410

    def __init__(self) -> None:
        super().__init__(LINK_GONE)


def check_new(new: str, repeat: str) -> dict[str, str]:
    """The problems of a new password typed twice (field ``new`` or ``repeat``), if any."""
    if len(new) < MIN_LENGTH:
        return {"new": TOO_SHORT}
    if len(new) > MAX_LENGTH:
        return {"new": TOO_LONG}
    if new != repeat:
        return {"repeat": NOT_SAME}
    return {}


def current_is(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current one (False for a user without a password)."""
    return bool(user.password_hash) and check_password_hash(user.password_hash or "", password)


def change(
    session: Session, user: User, new: str, repeat: str, keep_session: int, now: dt.datetime
) -> int:
    """Set the user's new password (the current one already checked, ``current_is``): every
    other session ends, ``keep_session`` goes on; the number of sessions ended."""
    problems = check_new(new, repeat)
    if problems:
        raise PasswordProblems(problems)
    org_users.set_password(user, new)
    session.flush()
    signin.retag(session, keep_session, user)
    ended = signin.end_all(session, user.id, "password_changed", now, keep=keep_session)
    end_links(session, user.id, now)
    record(session, user, Kind.PASSWORD_CHANGED, user, {"sessions_ended": ended}, at=now)
    return ended


def _hash(secret: str) -> str:
    # 256 random bits: a plain SHA-256 makes the stored value useless to a reader of the table.
    return hashlib.sha256(secret.encode()).hexdigest()


def end_links(session: Session, user_id: int, now: dt.datetime) -> None:
    """End the user's unused reset links (they expire now)."""
    session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.user_id == user_id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(expires_at=now)
    )


def may_reset(user: User | None) -> bool:
    """Whether a reset link is sent for this account: active, and signing in with a password
    (an account without one signs in through the region's identity provider)."""
    return user is not None and user.is_active and bool(user.password_hash)


def new_link(
    session: Session, settings: Settings, user: User, now: dt.datetime
) -> tuple[PasswordReset, str]:
    """A new reset link for ``user`` (earlier unused ones end): its row and its secret, which
    goes only into the mail (kflow.mailing.password_reset queues it)."""
    end_links(session, user.id, now)
    secret = secrets.token_urlsafe(32)
    row = PasswordReset(
        user_id=user.id,
        token_hash=_hash(secret),
        created_at=now,
        expires_at=now + dt.timedelta(minutes=settings.login.reset_link_minutes),
    )
    session.add(row)
    session.flush()  # the id, for the mail's idempotency key
    detail = {"expires_at": row.expires_at.isoformat()}
    record(session, user, Kind.PASSWORD_RESET_REQUESTED, SYSTEM, detail, at=now)
    return row, secret


def reset_url(settings: Settings, secret: str) -> str:
    return f"{settings.base_url.rstrip('/')}/aterstall-losenord/{secret}"


def link(session: Session, secret: str, now: dt.datetime) -> PasswordReset:
    """The reset link's row while it works; LinkGone otherwise."""
    if not secret or len(secret) > 100:
        raise LinkGone()
    row = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(secret)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise LinkGone()
    return row


def redeem(session: Session, secret: str, new: str, repeat: str, now: dt.datetime) -> User:
    """Set a new password with a reset link, once: the link is used up, every session of the
    user ends. LinkGone if the link no longer works (or another use won just now)."""
    row = link(session, secret, now)
    problems = check_new(new, repeat)
    if problems:
        raise PasswordProblems(problems)
    claimed = session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == row.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise LinkGone()
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise LinkGone()
    org_users.set_password(user, new)
    ended = signin.end_all(session, user.id, "password_reset", now)
    end_links(session, user.id, now)
    record(session, user, Kind.PASSWORD_RESET, user, {"sessions_ended": ended}, at=now)
    return user
