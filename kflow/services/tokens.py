"""A user's own API tokens: authenticate with one, list them, make one more, revoke one.

Only a token's SHA-256 is stored (kflow.services.org.hash_token). Administrators manage other
users' tokens in the web UI (Administration, API-nycklar), within the units they administer;
through the API a user only ever sees and revokes their own, and another user's token id is
answered as if it did not exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kflow.db import utcnow
from kflow.errors import NotFound, ValidationError
from kflow.models import ApiToken, User
from kflow.services import org
from kflow.services.queries import Page, page_args

# last_used_at is written at most this often per token, so a busy client costs no extra writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)
MAX_NAME = 200
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
    active, and within its minter's reach: org.token_acts); None for anything else."""
    row = session.execute(
        select(User, ApiToken.id, ApiToken.last_used_at, ApiToken.minted_by_id)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == org.hash_token(plain), org.token_acts())
    ).first()
    if row is None:
        return None
    user, token_id, last_used_at, minted_by_id = row
    return Authenticated(user, token_id, last_used_at, minted_by_id)


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
        raise ValidationError("name måste vara text.")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"name får vara högst {MAX_NAME} tecken.")
    live = session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if (live or 0) >= MAX_ACTIVE:
        raise ValidationError(
            f"Du har redan {MAX_ACTIVE} giltiga nycklar. Återkalla någon du inte använder först."
        )
    token, plain = org.create_token(session, user, name, minted_by=minted_by_id)
    session.flush()  # id and created_at for the answer
    return token, plain


def revoke_own(session: Session, user: User, token_id: int, now: dt.datetime | None = None) -> None:
    """Revoke one of the user's own tokens (again: no change). Another user's is not found."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFound(f"Du har ingen API-nyckel med id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()


def revoke_all(session: Session, user: User, now: dt.datetime | None = None) -> int:
    """Revoke every live token of ``user`` (an operator's answer to a stolen token); the count."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
