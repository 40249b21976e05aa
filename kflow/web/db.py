"""One database session per request; the request boundary commits or rolls back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from kflow.runtime import Runtime
from kflow.transient import commit_outcome_unknown, driver_error
from kflow.web import retry

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["kflow"]
    return rt


def session() -> Session:
    """The request's session, opened on first use (writers take the write lock up front)."""
    if "db" not in g:
        g.db = runtime().begin(write=request.method not in SAFE_METHODS)
    db: Session = g.db
    return db


@contextlib.contextmanager
def reading() -> Iterator[Session]:
    """A short read-only transaction of its own, over before the request's transaction begins:
    for a view that must not hold the write lock while it works on what it read (signing in
    checks a password for tens of milliseconds; on SQLite a writer blocks every other)."""
    if "db" in g:
        raise RuntimeError("reading() must come before the request's own session is opened")
    with runtime().transaction(write=False) as read:
        yield read


def commit() -> None:
    """Commit the request's transaction. Flushing first keeps an error of the request's own
    statements apart from one of COMMIT itself, whose outcome may be unknown (kflow.web.retry)."""
    if "db" in g:
        g.db.flush()
        try:
            runtime().commit(g.db)
        except Exception as exc:
            if commit_outcome_unknown(exc):
                retry.commit_lost()
            raise
        retry.committed()


def discard() -> None:
    """Roll back and close the request's session, if it has one. A rollback on a connection
    that broke fails too (SQLAlchemy then drops it from the pool); that is no news and no
    reason to fail the request: the transaction is gone either way."""
    db: Any = g.pop("db", None)
    if db is not None:
        try:
            runtime().end(db)
        except Exception as exc:
            if driver_error(exc) is None:
                raise


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        discard()
