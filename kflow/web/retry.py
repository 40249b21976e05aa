"""Retry at the request boundary: a request whose transaction fails with a transient database
error runs again from the start, a few times, before the client sees anything.

Transient (kflow.transient): SQLite busy; PostgreSQL serialization failures and deadlocks; a
connection that broke (PostgreSQL restarted, say) or could not be made. Each try gets a new
session, a fresh ``g`` and the cookie session as the request brought it, so nothing of the
failed try survives; the request body is read once and cached by Flask. Between tries it waits a
short, jittered, doubling pause (kflow.transient.backoff). When the tries run out the answer is
``503 unavailable`` with ``Retry-After``; another database error is reported as before.

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

import dataclasses
import logging
import time
from typing import Any

from flask import Flask, Response, g, request
from flask.globals import request_ctx

from kflow.errors import Unavailable
from kflow.transient import backoff, is_operational, is_transient

log = logging.getLogger(__name__)
ATTEMPTS = 5  # tries in all; the pauses between them add up to about 0.75 s
RETRY_AFTER = "1"
BUSY = "Databasen går inte att nå just nu. Försök igen om en stund."
UNKNOWN = (
    "Förbindelsen med databasen bröts medan ändringen sparades, så det går inte att säga om "
    "den sparades. Kontrollera det innan du försöker igen."
)
_ENVIRON_KEY = "kflow.retry"


@dataclasses.dataclass
class RetryState:
    """What the tries of one request share (kept in the WSGI environ, not in ``g``)."""

    attempt: int = 0
    committed: bool = False
    commit_lost: bool = False
    guarded: bool = False
    versions: dict[str, int] = dataclasses.field(default_factory=dict)


def state() -> RetryState:
    found = request.environ.get(_ENVIRON_KEY)
    if not isinstance(found, RetryState):
        found = request.environ[_ENVIRON_KEY] = RetryState()
    return found


def commit_lost() -> None:
    """Record that this try's COMMIT may have committed (see kflow.web.db.commit)."""
    state().commit_lost = True


def committed() -> None:
    """Record that this try's transaction was committed: from now on it is never run again."""
    state().committed = True


def version_guard(key: str, version: int) -> int | None:
    """Declare this request safe to run again after a lost COMMIT, as a change of one versioned
    row: returns the version the request must insist on (the one the lost try read), or None
    while no COMMIT has been lost."""
    current = state()
    current.guarded = True
    if current.commit_lost:
        return current.versions.get(key, version)
    current.versions[key] = version
    return None


class KflowFlask(Flask):
    """Flask with the retry loop around each request's dispatch."""

    def full_dispatch_request(self) -> Response:
        current = state()
        saved_g = dict(vars(g._get_current_object()))
        cookie = getattr(request_ctx, "_session", None)  # not .session: that marks it read
        saved_cookie = dict.copy(cookie) if isinstance(cookie, dict) else None
        saved_modified = bool(getattr(cookie, "modified", False))
        while True:
            current.attempt += 1
            try:
                return super().full_dispatch_request()
            except Exception as exc:
                transient = is_transient(exc)
                if current.committed or (not transient and not is_operational(exc)):
                    raise  # after COMMIT (a hook that runs later failed): a 500, never again
                self._forget_try(saved_g, cookie, saved_cookie, saved_modified)
                where = f"{request.method} {request.path}"
                if not transient:
                    log.error("%s: the database could not be used", where, exc_info=exc)
                    return self._unavailable(BUSY)
                if current.commit_lost and not current.guarded:
                    log.warning(
                        "%s: connection lost during COMMIT; not run again: %s",
                        where,
                        _first_line(exc),
                    )
                    return self._unavailable(UNKNOWN)
                if current.attempt >= ATTEMPTS:
                    log.warning(
                        "%s: database still unavailable after %s tries: %s",
                        where,
                        current.attempt,
                        _first_line(exc),
                    )
                    return self._unavailable(BUSY)
                log.info(
                    "%s: transient database error (try %s), running it again: %s",
                    where,
                    current.attempt,
                    _first_line(exc),
                )
                time.sleep(backoff(current.attempt))

    def _forget_try(
        self,
        saved_g: dict[str, Any],
        cookie: Any,
        saved_cookie: dict[str, Any] | None,
        saved_modified: bool,
    ) -> None:
        """Undo what a failed try left: its session and transaction, ``g``, the cookie."""
        from kflow.web import db

        db.discard()
        values = vars(g._get_current_object())
        values.clear()
        values.update(saved_g)
        if saved_cookie is not None:
            dict.clear(cookie)
            dict.update(cookie, saved_cookie)
            cookie.modified = saved_modified

    def _unavailable(self, message: str) -> Response:
        error = Unavailable(message)
        if request.path.startswith("/api/"):
            from kflow.web.api import error_response

            response = error_response(error)
        else:
            from flask_login import AnonymousUserMixin

            from kflow.web.ui.base import error_page

            g._login_user = AnonymousUserMixin()  # the page must not need the database
            response = error_page(error)
        response = self.finalize_request(response, from_error_handler=True)
        response.headers["Retry-After"] = RETRY_AFTER
        return response


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
