"""A user's own API tokens: authenticate with one, list them, make one more, revoke one.

Only a token's SHA-256 is stored (kflow.accounts.tokens.hash_token). Administrators manage other
users' tokens in the web UI (Administration, API-nycklar), within the units they administer;
through the API a user only ever sees and revokes their own, and another user's token id is
answered as if it did not exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import secrets
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from kflow.accounts import tokens as api_tokens
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.events import record
from kflow.accounts.models import ApiToken
from kflow.db import utcnow
from kflow.errors import NotFound, ValidationError
from kflow.org.models import Membership, UnitClosure, User
from kflow.paging import Page, page_args

# last_used_at is written at most this often per token, so a busy client costs no extra writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)
MAX_NAME = 200
Actor = User | str  # who changed an account: a user, or events.CLI / events.SYSTEM
MAX_ACTIVE = 50  # live tokens per user; a leaked token cannot mint siblings without end


@dataclasses.dataclass(frozen=True)
class Authenticated:
    user: User
    token_id: int
    last_used_at: dt.datetime | None
    minted_by_id: int | None = None  # a token made with this one inherits it

    def needs_touch(self, now: dt.datetime) -> bool:
        return self.last_used_at is None or self.last_used_at < now - LAST_USED_RESOLUTION


def authenticate(session: Session, plain: str) -> Authenticated | None:
    """The token's user and the token, in one query, if the token may act (live, its user
    active, and within its minter's reach: api_tokens.token_acts); None for anything else."""
    row = session.execute(_authenticating(), {"token_hash": api_tokens.hash_token(plain)}).first()
    if row is None:
        return None
    user, token_id, last_used_at, minted_by_id = row
    return Authenticated(user, token_id, last_used_at, minted_by_id)


@functools.cache
def _authenticating() -> Select[User, int, dt.datetime | None, int | None]:
    """The authenticating query, built once (building it costs more than running it)."""
    return (
        select(User, ApiToken.id, ApiToken.last_used_at, ApiToken.minted_by_id)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == bindparam("token_hash"), api_tokens.token_acts())
    )


def touch(session: Session, token_id: int, now: dt.datetime) -> None:
    """Record a use of the token, unless one was recorded in the last few minutes."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at < now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )


def own_tokens(session: Session, user: User, *, limit: Any = None, offset: Any = None) -> Page:
    """The user's tokens, newest first, revoked ones included."""
    lim, off = page_args(limit, offset)
    mine = ApiToken.user_id == user.id
    total = session.scalar(select(func.count()).select_from(ApiToken).where(mine)) or 0
    items = session.scalars(
        select(ApiToken)
        .where(mine)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(lim)
        .offset(off)
    ).all()
    return Page(items, total)


def create_own(
    session: Session, user: User, name: Any = None, minted_by_id: int | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the plain token is returned once and never stored.

    ``minted_by_id``: the minter of the token the request came with, if an administrator made
    that one: a token cannot shed its minter's reach by making a sibling.
    """
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise ValidationError("Benämningen (name) måste vara text.")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"Benämningen (name) får vara högst {MAX_NAME} tecken.")
    live = session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if (live or 0) >= MAX_ACTIVE:
        raise ValidationError(
            f"Du har redan {MAX_ACTIVE} giltiga nycklar. Återkalla någon du inte använder först."
        )
    token, plain = api_tokens.create_token(session, user, name, minted_by=minted_by_id)
    session.flush()  # id and created_at for the answer
    return token, plain


def revoke_own(
    session: Session,
    user: User,
    token_id: int,
    now: dt.datetime | None = None,
    actor: Actor | None = None,
) -> None:
    """Revoke one of the user's own tokens (again: no change). Another user's is not found."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFound(f"Du har ingen API-nyckel med id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        _recorded(session, user, Kind.TOKEN_REVOKED, actor or user, token)


def revoke_all(
    session: Session, user: User, now: dt.datetime | None = None, actor: Actor | None = None
) -> int:
    """Revoke every live token of ``user`` (an operator's answer to a stolen token); the count.
    With ``actor``, one account event says so (deactivation records its own)."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if actor is not None and count:
        record(session, user, Kind.TOKEN_REVOKED, actor, {"count": count})
    return count


def _recorded(session: Session, user: User, kind: Kind, actor: Actor, token: ApiToken) -> None:
    """The account event of one token made or revoked (its visible prefix, never the token)."""
    record(session, user, kind, actor, {"prefix": token.prefix, "name": token.name})


TOKEN_PREFIX = "kf_"  # noqa: S105 (a visible prefix, not a secret)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    user: User,
    name: str = "",
    minted_by: User | int | None = None,
    actor: Actor | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored.

    ``minted_by``: the administrator who makes it for ``user`` (the token then acts only while
    they administer the user, see kflow.accounts.tokens.authenticate); None when the user makes
    their own or an operator does at the command line. ``actor``: who makes it, for the account
    history (default: the minter, else the user); an inactive user gets none.
    """
    if not user.is_active:
        raise ValidationError(f"Kontot {user.email} är inaktiverat och kan inte få API-nycklar.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    minter_id = minted_by.id if isinstance(minted_by, User) else minted_by
    token = ApiToken(
        user=user,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        name=name,
        minted_by_id=None if minter_id == user.id else minter_id,
    )
    session.add(token)
    who = actor if actor is not None else minted_by if isinstance(minted_by, User) else user
    _recorded(session, user, Kind.TOKEN_CREATED, who, token)
    return token, plain


def token_acts() -> ColumnElement[bool]:
    """The token (joined with its user) may act: live, its user active and, when an
    administrator made it for the user, within that administrator's reach.

    A minted token acts only while its minter is active, holds ``admin`` somewhere, and every
    unit the user holds a role in lies at or below a unit where the minter holds ``admin``. So
    a regional administrator's token for a user who later becomes an NPO chair stops the moment
    the user gets that role, and starts again only if it is taken away. (A user with no roles
    lies within every administrator's reach.)
    """
    minter = aliased(User, name="minter")
    minter_admin = aliased(Membership, name="minter_admin")
    held = aliased(Membership, name="held")
    reach = aliased(UnitClosure, name="reach")
    minter_is_admin = (
        select(minter_admin.id)
        .where(minter_admin.user_id == ApiToken.minted_by_id, minter_admin.role == "admin")
        .exists()
    )
    minter_is_active = (
        select(minter.id).where(minter.id == ApiToken.minted_by_id, minter.is_active).exists()
    )
    role_beyond_reach = (
        select(held.id)
        .where(
            held.user_id == ApiToken.user_id,
            ~select(reach.ancestor_id)
            .join(minter_admin, minter_admin.unit_id == reach.ancestor_id)
            .where(
                reach.descendant_id == held.unit_id,
                minter_admin.user_id == ApiToken.minted_by_id,
                minter_admin.role == "admin",
            )
            .exists(),
        )
        .exists()
    )
    return and_(
        ApiToken.revoked_at.is_(None),
        User.is_active.is_(True),
        or_(
            ApiToken.minted_by_id.is_(None),
            and_(minter_is_active, minter_is_admin, ~role_beyond_reach),
        ),
    )


def user_for_token(session: Session, plain: str) -> User | None:
    # One query: the token's user, if the token may act (token_acts).
    user: User | None = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(plain), token_acts())
    )
    return user


def revoke_token(session: Session, token_id: int, actor: Actor) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("Token finns inte.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        _recorded(session, token.user, Kind.TOKEN_REVOKED, actor, token)
    return token
