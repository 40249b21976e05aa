"""The pieces every entry point (web, CLI, scheduler) shares: settings, engine, sessions."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kflow.config import ConfigError, Settings, load_settings
from kflow.db import begin_write, make_engine, make_sessionmaker
from kflow.statements import OUTER_CONNECTION


class HeldSession(Session):
    """The session of a thread's held connection, joined to a transaction begun on it.

    ``Runtime.begin`` begins the transaction on the connection itself; the session joins it
    ("control_fully": the session's commit, rollback and close end it) only when the ORM is
    used. The hot path (kflow.hotpath) runs its statements on the connection directly, so a
    click never builds the session's transaction bookkeeping, which costs as much as the
    click's own UPDATE. Commit, rollback, close and ``in_transaction`` see the connection's
    transaction whether or not the session joined it.
    """

    bind: Connection

    def in_transaction(self) -> bool:
        return super().in_transaction() or self.bind.in_transaction()

    # Adding, changing or loading an object begins the session's transaction (joined to the
    # connection's), so a session without one has nothing of its own to flush or forget.

    def commit(self) -> None:
        if self.get_transaction() is not None:
            super().commit()
        elif self.bind.in_transaction():
            self.bind.commit()

    def rollback(self) -> None:
        if self.get_transaction() is not None:
            super().rollback()
        elif self.bind.in_transaction():
            self.bind.rollback()

    def close(self) -> None:
        try:
            if self.get_transaction() is not None or not self._pristine():
                super().close()
        finally:
            if self.bind.in_transaction():
                self.bind.rollback()

    def _pristine(self) -> bool:
        """Holds no objects, new or loaded (a click's session): closing it has nothing to do."""
        return not self.identity_map and not self._new


class _Held:
    """A thread's connection, kept between its transactions, and the session bound to it.

    Checking a connection out of the pool and back in, with the Connection and the session's
    bookkeeping around it, costs more than a click's UPDATE; a thread that keeps one pays it
    once. Between transactions the connection is idle (no transaction, no snapshot): what the
    pool would otherwise keep idle on the thread's behalf.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.generation = runtime._generation
        self.connection: Connection = runtime.engine.connect()
        options = {**runtime.sessions.kw, "bind": self.connection}
        self.session = HeldSession(**options, join_transaction_mode="control_fully")
        self.session.info[OUTER_CONNECTION] = self.connection
        self.busy = False
        self.begin_mode = "DEFERRED"  # the kflow_begin execution option it carries
        # Closed with the thread that held it (its threading.local entry goes) or at dispose.
        self._finalizer = weakref.finalize(self, _close_quietly, self.connection)

    def discard(self) -> None:
        """Close the connection for good: not back into a pool that may have been disposed
        (a disposed pool keeps what is checked in later, open, until it is collected)."""
        with contextlib.suppress(SQLAlchemyError, RuntimeError):
            self.connection.invalidate()
        self._finalizer()


def _close_quietly(connection: Connection) -> None:
    with contextlib.suppress(SQLAlchemyError, RuntimeError):
        connection.close()


@dataclasses.dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # When sessions come from the engine, each thread keeps one connection and its session
    # for its transactions (see _Held); a second, nested transaction gets a session of its own.
    _local: threading.local = dataclasses.field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )
    _held: weakref.WeakSet[_Held] = dataclasses.field(
        default_factory=weakref.WeakSet, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _generation: int = dataclasses.field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._holds:
            # engine.dispose() (a test's teardown, or kflow.hotpath after a lost connection)
            # also lets go of the connections the threads hold.
            event.listen(self.engine, "engine_disposed", _on_dispose(self))

    @property
    def _holds(self) -> bool:
        return isinstance(self.sessions.kw.get("bind"), Engine)

    @classmethod
    def create(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or load_settings()
        url = settings.resolved_database_url
        _check_database_url(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        return cls(settings, engine, make_sessionmaker(engine))

    def begin(self, write: bool = True) -> Session:
        """A session for one transaction, to be given back with ``end``. A writer takes the
        write lock up front (BEGIN IMMEDIATE on SQLite)."""
        held = self._free_held() if self._holds else None
        session = self.sessions() if held is None else held.session
        try:
            if held is None:
                if write:
                    begin_write(session)
            else:
                if self.engine.dialect.name == "sqlite":
                    # The held connection keeps its options: BEGIN as this transaction needs.
                    mode = "IMMEDIATE" if write else "DEFERRED"
                    if held.begin_mode != mode:
                        held.connection.execution_options(kflow_begin=mode)
                        held.begin_mode = mode
                held.connection.begin()  # the session joins it on first use (HeldSession)
        except BaseException:
            self.end(session)
            raise
        return session

    def end(self, session: Session) -> None:
        """Close ``session`` (what it did not commit is rolled back) and free it."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is None or held.session is not session:
            session.close()
            return
        closed = False
        try:
            session.close()
            closed = True
        finally:
            if not closed or held.connection.invalidated or held.generation != self._generation:
                self._drop(held)  # broken, or its pool was disposed: the next one is new
            held.busy = False

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.begin(write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            self.end(session)

    def _free_held(self) -> _Held | None:
        """The thread's held connection and session, now busy; None if already in use (a
        transaction inside a transaction gets a session of its own)."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None:
            if held.busy:
                return None
            with self._lock:  # against _disposed closing it meanwhile
                if held.generation == self._generation:
                    held.busy = True
                    return held
            self._drop(held)
        held = _Held(self)
        held.busy = True
        with self._lock:
            self._held.add(held)
        self._local.held = held
        return held

    def _drop(self, held: _Held) -> None:
        with self._lock:
            self._held.discard(held)
        if getattr(self._local, "held", None) is held:
            self._local.held = None
        held.discard()

    def _disposed(self) -> None:
        """The engine's pool was replaced: idle held connections close now, busy ones when
        their transaction ends."""
        with self._lock:
            self._generation += 1
            idle = [h for h in self._held if not h.busy]
        for held in idle:
            held.discard()


def _on_dispose(runtime: Runtime) -> Any:
    ref = weakref.ref(runtime)

    def disposed(_engine: Engine) -> None:
        found = ref()
        if found is not None:
            found._disposed()

    return disposed


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
