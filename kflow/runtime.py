"""The pieces every entry point (web, CLI, scheduler) shares: settings, engine, sessions."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from kflow.config import ConfigError, Settings, load_settings
from kflow.db import begin_write, make_engine, make_sessionmaker


@dataclasses.dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Each thread keeps its last closed session for its next transaction: a closed session
    # holds no connection and no objects, and making a new one costs more than a small UPDATE.
    _parked: threading.local = dataclasses.field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )

    @classmethod
    def create(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or load_settings()
        url = settings.resolved_database_url
        _check_database_url(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        return cls(settings, engine, make_sessionmaker(engine))

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session: Session | None = getattr(self._parked, "session", None)
        if session is None:  # none parked, or this thread is already inside a transaction
            session = self.sessions()
        else:
            self._parked.session = None
        try:
            if write:
                begin_write(session)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            self._parked.session = session


def _check_database_url(url: str) -> None:
    """A clear ConfigError for a URL kflow cannot use (without repeating it: it may hold a
    password)."""
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        reason = str(exc).replace(url, "…").splitlines()[0] if str(exc) else type(exc).__name__
        message = f"Setting 'database_url' is not a database URL kflow can use: {reason}"
        raise ConfigError(message) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            "Setting 'database_url' must name an SQLite or PostgreSQL database "
            f"(not {parsed.get_backend_name()})."
        )


def settle_heap() -> None:
    """Call once a long-running process has started (a web worker, the scheduler).

    Everything allocated so far (modules, mappers, compiled statements, the calendar) lives as
    long as the process; moved out of the garbage collector's sight (``gc.freeze``), it is no
    longer scanned by every full collection, which otherwise pauses a request for tens of
    milliseconds now and then (the overview's p95 in docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
