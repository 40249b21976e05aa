"""What the WSGI twin replays: for each benchmarked request, the SQL kflow ran for it (the
statements and their parameters exactly as they reached the driver) and the response it sent.

kflow's own app serves each request once, in this process, through Flask's test client against
the data set; a listener on the engine records every statement. The twin then runs the same
statements on a bare psycopg connection, one transaction a request, and answers the recorded
status, headers and bytes: the floor through HTTP for the same work in the database.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import event

HEADERS_KEPT = ("Content-Type", "Content-Disposition", "Cache-Control")


def encode(value: Any) -> Any:
    """A driver parameter as JSON (tagged where JSON has no type of its own)."""
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, uuid.UUID):
        return {"$u": str(value)}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$map": {k: encode(v) for k, v in value.items()}}
    if type(value).__name__ == "Json":  # psycopg.types.json.Json
        return {"$json": value.obj}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        ((tag, raw),) = value.items()
        if tag == "$dt":
            return dt.datetime.fromisoformat(raw)
        if tag == "$d":
            return dt.date.fromisoformat(raw)
        if tag == "$dec":
            return decimal.Decimal(raw)
        if tag == "$b":
            return base64.b64decode(raw)
        if tag == "$u":
            return uuid.UUID(raw)
        if tag == "$map":
            return {k: decode(v) for k, v in raw.items()}
        if tag == "$json":
            from psycopg.types.json import Json

            return Json(raw)
    return value


class Recorder:
    """Records the statements an engine runs while ``active``: those SQLAlchemy executes, and
    the click's prepared ones (kflow.statements), which run on the DBAPI cursor."""

    def __init__(self, engine: Any) -> None:
        from kflow import statements

        self.active = False
        self.statements: list[list[Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        original = statements.Statement.execute
        recorder = self

        def execute(statement: Any, session: Any, params: Any) -> Any:
            if recorder.active:
                connection = statements.connection_of(session)
                compiled = statement._for(connection.dialect)
                recorder.statements.append(
                    [compiled.sql, encode(compiled.arguments(params)), False]
                )
            return original(statement, session, params)

        statements.Statement.execute = execute  # type: ignore[method-assign]

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if self.active:
            self.statements.append([statement, encode(params), many])

    def take(self) -> list[list[Any]]:
        taken, self.statements = self.statements, []
        return taken


def capture(
    client: Any, recorder: Recorder, method: str, path: str, **kwargs: Any
) -> dict[str, Any]:
    """Serve one request with kflow; what the twin needs to answer it the same way."""
    recorder.take()
    recorder.active = True
    try:
        response = client.open(path, method=method, **kwargs)
    finally:
        recorder.active = False
    if response.status_code >= 400:
        raise AssertionError(f"{method} {path}: {response.status_code} {response.data[:300]!r}")
    return {
        "method": method,
        "path": path,
        "status": f"{response.status_code} {response.status.split(' ', 1)[1]}",
        "headers": [[h, response.headers[h]] for h in HEADERS_KEPT if h in response.headers],
        "body": base64.b64encode(response.data).decode(),
        "statements": recorder.take(),
    }
