"""One database session per request; the request boundary commits or rolls back."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from kflow.db import begin_write
from kflow.runtime import Runtime

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["kflow"]
    return rt


def session() -> Session:
    """The request's session, opened on first use (writers take the write lock up front)."""
    if "db" not in g:
        g.db = runtime().sessions()
        if request.method not in SAFE_METHODS:
            begin_write(g.db)
    db: Session = g.db
    return db


def commit() -> None:
    if "db" in g:
        g.db.commit()


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        db: Any = g.pop("db", None)
        if db is not None:
            if db.in_transaction():
                db.rollback()
            db.close()
