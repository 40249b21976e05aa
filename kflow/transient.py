"""Database errors that pass: which are worth running a transaction again, and which leave a
COMMIT's outcome unknown.

Transient: SQLite busy or locked; on PostgreSQL a serialization failure, a deadlock, a lock
timeout, too many connections, the server shutting down, starting up or restarting, and any
connection that broke (SQLAlchemy marks it ``connection_invalidated`` and, by default, drops
every pooled connection made before it, so the next try gets a fresh one) or could not be made.
"""

from __future__ import annotations

import random
import sqlite3

from sqlalchemy.exc import DBAPIError, OperationalError

# SQLSTATEs worth another try (class 08, connection exceptions, counts too).
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "53300",  # too_many_connections
        "57P01",  # admin_shutdown: pg_ctl stop/restart -m fast
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up or shutting down
    }
)
# The server refused the transaction: nothing was committed.
REFUSED_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def driver_error(exc: BaseException) -> BaseException | None:
    """The database driver's own exception behind ``exc`` (None: not a database error).
    SQLAlchemy wraps the driver's errors; a statement run straight on the DBAPI connection (an
    event hook, say) raises them bare."""
    if isinstance(exc, DBAPIError):
        return exc.orig
    module = type(exc).__module__
    if isinstance(exc, sqlite3.Error) or module == "psycopg" or module.startswith("psycopg."):
        return exc
    return None


def is_operational(exc: BaseException) -> bool:
    """A database error about the database's operation (OperationalError), not the request."""
    if isinstance(exc, OperationalError):
        return True
    orig = driver_error(exc)
    return orig is not None and any(c.__name__ == "OperationalError" for c in type(orig).__mro__)


def _sqlstate(orig: BaseException | None) -> str | None:
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_transient(exc: BaseException) -> bool:
    """Whether running the failed transaction again from the start may well succeed."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = driver_error(exc)
    if orig is None:
        return False
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
        text = str(orig).lower()
        return "database is locked" in text or "database is busy" in text
    state = _sqlstate(orig)
    if state is None:
        # psycopg reports a connection that could not be made (refused, reset, timed out), or
        # one found closed, as an OperationalError without a SQLSTATE.
        return is_operational(exc)
    return state.startswith("08") or state in TRANSIENT_SQLSTATES


def commit_outcome_unknown(exc: BaseException) -> bool:
    """Whether a COMMIT that raised ``exc`` may nevertheless have committed.

    SQLite commits locally: an error means no commit. A PostgreSQL server that refused the
    transaction (serialization failure, deadlock) committed nothing either; but when the
    connection broke while COMMIT was on its way, the server may have committed and died
    before answering.
    """
    orig = driver_error(exc)
    if orig is None or isinstance(orig, sqlite3.Error):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return is_operational(exc) and _sqlstate(orig) not in REFUSED_SQLSTATES


def backoff(attempt: int, base: float = 0.05, cap: float = 1.0) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1, 2, ...): doubling, with jitter so
    the losers of one collision do not collide again."""
    return float(min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
