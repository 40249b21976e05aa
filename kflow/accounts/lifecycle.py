"""The user's lifecycle: create, grant and revoke roles, rename, set the HSA-id, deactivate,
activate and set a new password. Each change writes exactly one ``AccountEvent``
(kflow.accounts.events) in the caller's transaction; nothing here commits.

Deactivating ends every signed-in session of the user and revokes their live API tokens, their
calendar feed and unused password-reset links, so they are out on their next request (and the
sign-in check, kflow.accounts.signin.resume, and the token check,
kflow.accounts.tokens.authenticate, refuse an inactive user as well). The user and their history
stay: nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kflow.accounts import calendar_feeds, signin
from kflow.accounts import tokens as api_tokens
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.events import record
from kflow.accounts.models import PasswordReset
from kflow.db import utcnow
from kflow.errors import Forbidden, ValidationError
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User

Actor = User | str
# SE + the organisation number (10 digits, or 12 with the "16" prefix some regions use) + "-" +
# the local part: SE2321000131-E000000000001, SE162321000255-O12345.
HSA_ID_RE = re.compile(r"^SE(\d{10}|\d{12})-[A-Za-z0-9]{1,40}$")
GENERATED_PASSWORD_BYTES = 12  # 16 URL-safe characters


def create(
    session: Session,
    email: str,
    name: str,
    password: str | None,
    actor: Actor,
    now: dt.datetime | None = None,
) -> User:
    user = org_users.create_user(session, email, name, password)
    if now is not None:
        user.created_at = now
    detail = {"email": user.email, "name": user.name, "with_password": bool(password)}
    record(session, user, Kind.CREATED, actor, detail, at=now)
    return user


def _unit(unit: Unit) -> dict[str, str]:
    return {"unit": unit.code, "unit_name": unit.name}


def grant(
    session: Session,
    user: User,
    role: str,
    unit: Unit,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Membership:
    """Give the role (nothing is recorded when the user holds it already)."""
    membership = org_users.grant(session, user, role, unit)
    if membership.id is None:  # new in this transaction
        record(session, user, Kind.ROLE_GRANTED, actor, {"role": role, **_unit(unit)}, at=now)
    return membership


def revoke(
    session: Session,
    user: User,
    role: str,
    unit: Unit,
    actor: Actor,
    now: dt.datetime | None = None,
) -> None:
    org_users.revoke(session, user, role, unit)
    record(session, user, Kind.ROLE_REVOKED, actor, {"role": role, **_unit(unit)}, at=now)


def rename(
    session: Session, user: User, name: str, actor: Actor, now: dt.datetime | None = None
) -> bool:
    """Give the user a new name; False (and nothing recorded) if it is the same."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Användaren måste ha ett namn.")
    if len(name) > org_users.MAX_NAME:
        raise ValidationError(f"Namnet får vara högst {org_users.MAX_NAME} tecken.")
    if name == user.name:
        return False
    old, user.name = user.name, name
    record(session, user, Kind.RENAMED, actor, {"old": old, "new": name}, at=now)
    return True


def set_hsa_id(session: Session, user: User, hsa_id: str | None, actor: Actor) -> bool:
    """Set (or, with an empty value, clear) the user's HSA-id; False if it is unchanged."""
    value = (hsa_id or "").strip().upper() or None
    if value is not None:
        if not HSA_ID_RE.match(value):
            raise ValidationError(
                f"'{value}' är inget giltigt HSA-id (till exempel SE2321000131-E000000000001)."
            )
        taken = session.scalar(select(User.email).where(User.hsa_id == value, User.id != user.id))
        if taken is not None:
            raise ValidationError(f"HSA-id {value} tillhör redan en annan användare.")
    if value == user.hsa_id:
        return False
    old, user.hsa_id = user.hsa_id, value
    record(session, user, Kind.HSA_ID_SET, actor, {"old": old, "new": value})
    return True


def deactivate(session: Session, user: User, actor: Actor, now: dt.datetime | None = None) -> None:
    """Deactivate the user: their sessions end; their tokens, calendar feed and reset links are
    revoked."""
    if isinstance(actor, User) and actor.id == user.id:
        raise Forbidden("Du kan inte inaktivera ditt eget konto.")
    if not user.is_active:
        raise ValidationError(f"{user.email} är redan inaktiverad.")
    now = now or utcnow()
    user.is_active = False
    sessions = signin.end_all(session, user.id, "deactivated", now)
    tokens = api_tokens.revoke_all(session, user, now)
    calendar_feeds.revoke(session, user.id)
    _end_resets(session, user, now)
    detail = {"sessions_ended": sessions, "tokens_revoked": tokens}
    record(session, user, Kind.DEACTIVATED, actor, detail, at=now)


def activate(session: Session, user: User, actor: Actor, now: dt.datetime | None = None) -> None:
    """Let a deactivated user sign in again (with new sessions and tokens: the old stay ended)."""
    if user.is_active:
        raise ValidationError(f"{user.email} är redan aktiv.")
    user.is_active = True
    record(session, user, Kind.ACTIVATED, actor, at=now)


def set_password(
    session: Session, user: User, password: str, actor: Actor, now: dt.datetime | None = None
) -> int:
    """An administrator (or an operator) sets a new password: every session of the user ends
    and unused reset links are revoked; the number of sessions ended."""
    if isinstance(actor, User) and actor.id == user.id:
        raise Forbidden("Ditt eget lösenord byter du under Mitt konto.")
    org_users.set_password(user, password)
    now = now or utcnow()
    ended = signin.end_all(session, user.id, "password_set", now)
    _end_resets(session, user, now)
    record(session, user, Kind.PASSWORD_SET, actor, {"sessions_ended": ended}, at=now)
    return ended


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _end_resets(session: Session, user: User, now: dt.datetime) -> None:
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
