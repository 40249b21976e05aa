"""*Mitt konto* as its user sees it: who they are, their roles and account history (the same
read model as Administration's, kflow.queries.accounts), their own API tokens, their calendar
feed and how many signed-in sessions they have open."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from kflow.accounts import calendar_feeds, signin
from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken, CalendarFeed
from kflow.errors import NotFound
from kflow.queries import accounts

TOKEN_LIMIT = 100  # the newest; a user may hold at most 50 live ones


@dataclasses.dataclass(frozen=True)
class MyAccount:
    account: accounts.Account  # the user, their roles (label, unit) and history
    tokens: list[ApiToken]
    feed: CalendarFeed | None
    open_sessions: int


def my_account(
    session: Session, user_id: int, lifetime: signin.Lifetime, now: dt.datetime
) -> MyAccount:
    found = accounts.account(session, user_id)
    if found is None:
        raise NotFound("Kontot finns inte.")
    tokens = api_tokens.own_tokens(session, found.user, limit=TOKEN_LIMIT)
    return MyAccount(
        found,
        list(tokens.items),
        calendar_feeds.active(session, user_id),
        signin.open_sessions(session, user_id, lifetime, now),
    )
