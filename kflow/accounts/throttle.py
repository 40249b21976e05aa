"""Throttling sign-in: too many failed attempts for one account, or from one address, wait.

Every failed sign-in is a row in ``login_failures`` twice over: once under a key for the e-mail
address that was tried (whether or not such an account exists, so the answer never tells) and
once under a key for the client's address. Before a password is even checked, each key is
asked: were its last ``max_failures_*`` failures all within ``window_seconds`` of one another,
the latest less than ``lockout_seconds`` ago? Then the attempt is refused, and not counted, until
the lockout has passed. A successful sign-in clears the account's failures (not the address's:
one person signing in says nothing about the others behind the same address).

The rows live in the database, so all web worker processes count the same attempts. Keys are
HMACs keyed with the secret key: no e-mail address or client address is stored in clear.
Rows too old to matter are deleted whenever a failure is recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import math

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kflow.accounts.models import LoginFailure
from kflow.config import LoginSettings


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address: the connecting one, or with ``trusted_proxies`` reverse proxies in
    front, the one the outermost of them saw (as werkzeug's ProxyFix reads X-Forwarded-For)."""
    if trusted_proxies and forwarded_for:
        values = [v.strip() for v in forwarded_for.split(",")]
        if len(values) >= trusted_proxies and values[-trusted_proxies]:
            return values[-trusted_proxies]
    return remote_addr or "unknown"


def _key(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class Throttle:
    """The throttle for one sign-in attempt: one account name, from one client address."""

    settings: LoginSettings
    account_key: str | None  # None: no account named (single sign-on): the address only
    address_key: str

    @classmethod
    def of(
        cls,
        settings: LoginSettings,
        secret: str,
        email: str,
        address: str,
        kind: str = "account",
    ) -> Throttle:
        """The throttle for ``email`` (none if empty) from ``address``. ``kind`` keeps counts
        apart: "reset" counts "Glömt lösenord?" requests for an address on their own, so asking
        for links never locks the account's log-in (the client's address is shared)."""
        account = email.strip().lower()
        return cls(
            settings,
            _key(secret, kind, account) if account else None,
            _key(secret, "address", address),
        )

    def _limits(self) -> tuple[tuple[str, int], ...]:
        s = self.settings
        account = ((self.account_key, s.max_failures_per_account),) if self.account_key else ()
        return (*account, (self.address_key, s.max_failures_per_address))

    def wait_seconds(self, session: Session, now: dt.datetime) -> int:
        """0 if an attempt may be made now, else the whole seconds until one may."""
        window = dt.timedelta(seconds=self.settings.window_seconds)
        lockout = dt.timedelta(seconds=self.settings.lockout_seconds)
        until = now
        for key, limit in self._limits():
            recent = list(
                session.scalars(
                    select(LoginFailure.at)
                    .where(LoginFailure.key == key, LoginFailure.at > now - window - lockout)
                    .order_by(LoginFailure.at.desc())
                    .limit(limit)
                )
            )
            if len(recent) == limit and recent[0] - recent[-1] < window:
                until = max(until, recent[0] + lockout)
        return math.ceil((until - now).total_seconds())

    def failed(self, session: Session, now: dt.datetime) -> None:
        """Count a failed attempt against the account and the address; forget old ones."""
        horizon = dt.timedelta(seconds=self.settings.window_seconds + self.settings.lockout_seconds)
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - horizon))
        session.execute(
            insert(LoginFailure),
            [{"key": key, "at": now} for key in (self.account_key, self.address_key) if key],
        )

    def succeeded(self, session: Session) -> None:
        """A successful sign-in: the account starts afresh."""
        if self.account_key is not None:
            session.execute(delete(LoginFailure).where(LoginFailure.key == self.account_key))
