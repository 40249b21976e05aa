"""The request boundary: the one place where a request's transaction is opened, committed,
rolled back and run again. Views never commit or roll back.

**The unit.** ``session()`` opens the request's unit of work (kflow.runtime) on first use: a
writer for anything but GET, HEAD and OPTIONS (on SQLite it takes the write lock up front, so a
read-then-write request waits for the lock instead of failing), a reader otherwise.
``reading()`` is a short read-only transaction of its own, over before the request's begins
(signing in reads the account, then checks the password outside any transaction).
``writing()`` is a write transaction of its own, for the single sign-on callback: a GET that
must write.

**Commit.** A writing request is committed once its response is built, before any other
``after_request`` hook sees it, and only if it succeeded (status below 400); anything else is
rolled back when the request ends. A version clash or a broken constraint found at commit is
``409 conflict`` (kflow.web.errors.conflict). A form shown again after a refused action gets
the data as it now is from ``refused``, which undoes what the request did first. Bookkeeping
that may wait (an API token's last use) runs ``afterwards``, in a transaction of its own.

**Retry.** A request whose transaction fails with a transient database error
(kflow.transient: SQLite busy; PostgreSQL serialization failures and deadlocks; a connection
that broke, PostgreSQL restarted say, or could not be made) runs again from the start, a few
times, before the client sees anything. ``Retrying`` wraps the app's WSGI callable: each try is
a request of its own (a fresh request context, so a new unit, a fresh ``g`` and the cookie
session as the client sent it; nothing of the failed try survives), and the request body is
kept as the first try read it, so every try reads the same. Between tries it waits a short,
jittered, doubling pause (kflow.transient.backoff). Inside the app, an error handler (or the
commit) judges the error and marks the try; the middleware throws the try's response away
and runs the request again, or, when the tries run out, answers ``503 unavailable`` with
``Retry-After`` in a pass of its own that reads neither the body nor the database. Another
database error is reported as before (a 500).

Running the request again is safe because nothing was committed, with one exception: when the
connection to PostgreSQL breaks while COMMIT is on its way, the server may have committed before
it died. Such a request runs again only if it declared itself guarded by a version check
(``version_guard``, used by the trigger endpoints): the next try insists on the version the lost
try read, so if the change was committed it answers ``409 conflict`` rather than applying it
twice. Any other write (creating a knowledge support, a user, a measurement: running them twice
would create two) is answered ``503`` with a message saying the change may have been saved.
A request whose transaction was committed is never run again: if a hook that runs after the
commit fails, the answer is a 500.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import psycopg
from flask import Flask, Response, after_this_request, current_app, g, request
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kflow.errors import Unavailable
from kflow.runtime import Runtime
from kflow.transient import (
    backoff,
    commit_outcome_unknown,
    driver_error,
    is_operational,
    is_transient,
)
from kflow.web import errors

if TYPE_CHECKING:
    from _typeshed import OptExcInfo, WriteableBuffer
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ATTEMPTS = 5  # tries in all; the pauses between them add up to about 0.75 s
RETRY_AFTER = "1"
BUSY = "Databasen går inte att nå just nu. Försök igen om en stund."
UNKNOWN = (
    "Förbindelsen med databasen bröts medan ändringen sparades, så det går inte att säga om "
    "den sparades. Kontrollera det innan du försöker igen."
)
# What a database error raised in a view or a hook may be: SQLAlchemy's wrapper, or the
# driver's own exception when a statement ran straight on the DBAPI connection.
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error, psycopg.Error)
_TRIES = "kflow.tries"  # in the WSGI environ
_UNIT = "kflow_unit"  # in g
_AFTERWARDS = "kflow_afterwards"  # in g
P = ParamSpec("P")
T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Install the boundary. Call first: its ``before_request`` answers a request whose tries
    gave up before anything else reads it."""
    app.before_request(_answer_given_up)
    for error in DATABASE_ERRORS:
        app.register_error_handler(error, _database_error)
    app.after_request(_run_afterwards)
    app.teardown_appcontext(_teardown)
    app.wsgi_app = Retrying(app.wsgi_app)  # type: ignore[method-assign]


# --- The unit -------------------------------------------------------------------------------


def runtime() -> Runtime:
    found: Runtime = current_app.extensions["kflow"]
    return found


def session() -> Session:
    """The request's session, opened on first use (writers take the write lock up front)."""
    unit: Session | None = g.get(_UNIT)
    if unit is None:
        write = request.method not in SAFE_METHODS
        unit = runtime().begin(write=write)
        setattr(g, _UNIT, unit)
        if write:
            # Before every other after_request hook (theirs run after the commit).
            after_this_request(_commit)
    return unit


@contextlib.contextmanager
def reading() -> Iterator[Session]:
    """A short read-only transaction of its own, over before the request's transaction begins:
    for a view that must not hold the write lock while it works on what it read (signing in
    checks a password for tens of milliseconds; on SQLite a writer blocks every other)."""
    if _UNIT in g:
        raise RuntimeError("reading() must come before the request's own session is opened")
    with runtime().transaction(write=False) as read:
        yield read


@contextlib.contextmanager
def writing() -> Iterator[Session]:
    """A write transaction of its own, committed when the block ends without an exception:
    for the one GET that must write (the single sign-on callback, kflow.web.ui.oidc: the
    provider sends the browser back with a GET, and signing in records the session). A
    transient database error in it runs the request again, like any other."""
    with runtime().transaction(write=True) as own:
        yield own


def refused(render: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Show a form again after the action it sent was refused: what the request did so far is
    undone (nothing half-done stays), then ``render(*args, **kwargs)`` reads the data as it
    now is."""
    unit: Session | None = g.get(_UNIT)
    if unit is not None:
        runtime().rollback(unit)
    return render(*args, **kwargs)


def afterwards(what: str, work: Callable[[Session], object]) -> None:
    """Run ``work`` in a transaction of its own once the request's transaction has ended
    (committed or not) and the request is answered: bookkeeping that may wait, such as an API
    token's last use. Best effort: a database error is logged (``what`` not recorded) and the
    work is left for next time."""
    pending: list[tuple[str, Callable[[Session], object]]] = g.setdefault(_AFTERWARDS, [])
    pending.append((what, work))


def _commit(response: Response) -> Response:
    """Commit what a successful write did. Flushing first keeps an error of the request's own
    statements apart from one of COMMIT itself, whose outcome may be unknown."""
    unit: Session | None = g.get(_UNIT)
    if unit is None or response.status_code >= 400:
        return response
    tries = _tries()
    try:
        unit.flush()
        try:
            runtime().commit(unit)
        except Exception as exc:
            if commit_outcome_unknown(exc):
                tries.commit_lost = True
            raise
    except (StaleDataError, IntegrityError):
        runtime().rollback(unit)  # the conflict page reads in a transaction of its own
        return errors.conflict()
    except Exception as exc:
        if tries.judge(exc, _where()):
            return _thrown_away()
        raise
    tries.committed = True
    return response


def _run_afterwards(response: Response) -> Response:
    pending = g.pop(_AFTERWARDS, None)
    if not pending or _tries().over:
        return response
    _end()  # a read never writes, and a write never waits for itself
    for what, work in pending:
        try:
            with runtime().transaction() as own:
                work(own)
        except SQLAlchemyError as exc:
            log.info("%s not recorded: %s", what, type(exc).__name__)
    return response


def _end() -> None:
    """Roll back and close the request's unit, if it has one. A rollback on a connection that
    broke fails too (SQLAlchemy then drops it from the pool); that is no news and no reason to
    fail the request: the transaction is gone either way."""
    unit: Session | None = g.pop(_UNIT, None)
    if unit is not None:
        try:
            runtime().end(unit)
        except Exception as exc:
            if driver_error(exc) is None:
                raise


def _teardown(exc: BaseException | None) -> None:
    _end()


# --- Tries ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Tries:
    """What the tries of one request share (in the WSGI environ: each try is a request)."""

    attempt: int = 1
    committed: bool = False
    commit_lost: bool = False
    guarded: bool = False
    versions: dict[str, int] = dataclasses.field(default_factory=dict)
    again: bool = False  # this try failed: run the request again
    given_up: str | None = None  # this try failed: answer 503 with this message

    @property
    def over(self) -> bool:
        """This try failed and its response is thrown away."""
        return self.again or self.given_up is not None

    def judge(self, exc: BaseException, where: str) -> bool:
        """Decide what a database error means for the request: run it again, or give up and
        answer 503 (True); or not for the boundary to handle (False: a 500)."""
        transient = is_transient(exc)
        if self.given_up is not None or self.committed:
            return False  # after COMMIT (a hook that runs later failed): never again
        if not transient and not is_operational(exc):
            return False
        if not transient:
            log.error("%s: the database could not be used", where, exc_info=exc)
            self.given_up = BUSY
        elif self.commit_lost and not self.guarded:
            log.warning(
                "%s: connection lost during COMMIT; not run again: %s", where, _first_line(exc)
            )
            self.given_up = UNKNOWN
        elif self.attempt >= ATTEMPTS:
            log.warning(
                "%s: database still unavailable after %s tries: %s",
                where,
                self.attempt,
                _first_line(exc),
            )
            self.given_up = BUSY
        else:
            log.info(
                "%s: transient database error (try %s), running it again: %s",
                where,
                self.attempt,
                _first_line(exc),
            )
            self.again = True
        return True


def _tries() -> Tries:
    found = request.environ.get(_TRIES)
    if not isinstance(found, Tries):  # a request that did not come through Retrying
        found = request.environ[_TRIES] = Tries()
    return found


def version_guard(key: str, version: int) -> int | None:
    """Declare this request safe to run again after a lost COMMIT, as a change of one versioned
    row: returns the version the request must insist on (the one the lost try read), or None
    while no COMMIT has been lost."""
    tries = _tries()
    tries.guarded = True
    if tries.commit_lost:
        return tries.versions.get(key, version)
    tries.versions[key] = version
    return None


def failed(exc: BaseException | None) -> Response | None:
    """For the app's 500 handler: a database error that reached it (raised by an error handler,
    say) is judged like any other; None if it is not the boundary's to handle."""
    if isinstance(exc, DATABASE_ERRORS) and _tries().judge(exc, _where()):
        return _thrown_away()
    return None


def _database_error(exc: Exception) -> Response:
    if _tries().judge(exc, _where()):
        return _thrown_away()
    raise exc


def _thrown_away() -> Response:
    """The response of a failed try, which Retrying never sends."""
    return Response(status=503)


def _answer_given_up() -> Response | None:
    """The answer to a request whose tries gave up, in a pass of its own."""
    message = _tries().given_up
    if message is None:
        return None
    response = errors.answer(Unavailable(message))
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def _where() -> str:
    return f"{request.method} {request.path}"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


class Retrying:
    """The app's WSGI callable, run once per try (see the module's docstring)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        tries = Tries(attempt=0)
        body = _Body(environ.get("wsgi.input") or io.BytesIO())
        held: list[tuple[str, list[tuple[str, str]], OptExcInfo | None]] = []

        def hold(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            held.append((status, headers, exc_info))
            return _no_write

        while True:
            tries.attempt += 1
            tries.again = False
            held.clear()
            try:
                result = self.app({**environ, _TRIES: tries, "wsgi.input": body.for_try()}, hold)
            except Exception as exc:  # propagated (the app's PROPAGATE_EXCEPTIONS)
                where = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
                if not tries.judge(exc, where):
                    raise
                result = ()
            if not tries.over:
                start_response(*held[-1])
                return result
            close = getattr(result, "close", None)
            if close is not None:
                close()
            if tries.again:
                time.sleep(backoff(tries.attempt))
                continue
            # Given up: the answer reads neither the body nor the database.
            return self.app({**environ, _TRIES: tries, "wsgi.input": io.BytesIO()}, start_response)


def _no_write(data: bytes) -> object:
    raise RuntimeError("kflow's views return their responses; WSGI write() is not offered")


class _Body:
    """The request body as the tries read it: what one try read, the next reads again; only
    the first to read further reads from the client (who sends it once)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.kept = bytearray()

    def for_try(self) -> _Reading:
        return _Reading(self)


class _Reading(io.RawIOBase):
    """One try's ``wsgi.input``."""

    def __init__(self, body: _Body) -> None:
        super().__init__()
        self._body = body
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        kept = self._body.kept
        if self._at < len(kept):
            count = min(len(view), len(kept) - self._at)
            view[:count] = kept[self._at : self._at + count]
        else:
            more = self._body.stream.read(len(view))
            count = len(more)
            view[:count] = more
            kept.extend(more)
        self._at += count
        return count
