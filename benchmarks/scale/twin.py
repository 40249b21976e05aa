"""The WSGI twin: the floor through HTTP. It answers each benchmarked request by running the
SQL kflow ran for it (benchmarks.scale.capture) on a bare psycopg connection, in one
transaction, and sending kflow's recorded response; nothing else. It runs on gunicorn with
kflow's own production settings (kflow.web.server.options).

``python -m benchmarks.scale.twin <script.json> <dsn> <port> <workers>``
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gunicorn.app.base import BaseApplication

from benchmarks.scale.capture import decode
from kflow.web.server import options

CLICK = "POST /click"
CLICK_PREFIX = "/api/v1/regional-adaptations/"


class Twin:
    def __init__(self, script: dict[str, list[dict[str, Any]]], dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None
        # "METHOD path" -> the recorded answers, taken in turn.
        self.routes: dict[str, Iterator[tuple[str, list[Any], bytes, list[tuple[str, str]]]]] = {}
        self.click: list[tuple[str, list[Any], bytes, list[tuple[str, str]]]] = []
        for key, answers in script.items():
            prepared = [
                (
                    a["status"],
                    [(s, decode(p), many) for s, p, many in a["statements"]],
                    base64.b64decode(a["body"]),
                    [(h, v) for h, v in a["headers"]],
                )
                for a in answers
            ]
            if key == CLICK:
                self.click = prepared
            else:
                self.routes[key] = itertools.cycle(prepared)

    def connection(self) -> Any:
        if self.conn is None:  # one per worker, made after the fork
            import psycopg

            self.conn = psycopg.connect(self.dsn)
        return self.conn

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "POST" and path.startswith(CLICK_PREFIX):
            status, body, headers = self.fire(int(path.split("/")[4]))
        else:
            answers = self.routes.get(f"{environ['REQUEST_METHOD']} {path}")
            if answers is None:
                start_response("404 Not Found", [("Content-Length", "0")])
                return [b""]
            status, statements, body, headers = next(answers)
            with self.connection().cursor() as cur:
                for sql, params, many in statements:
                    self.run(cur, sql, params, many)
            self.connection().commit()
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def run(cur: Any, sql: str, params: Any, many: bool) -> list[Any]:
        if many:
            cur.executemany(sql, params)
            return []
        cur.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []

    def fire(self, case_id: int) -> tuple[str, bytes, list[tuple[str, str]]]:
        """The click on ``case_id``: kflow's statements up to reading the case, then those of
        the recorded click that leaves the case's present state, with the case's id and
        version put in (so each click really moves the case, as kflow's does)."""
        with self.connection().cursor() as cur:
            state, version = None, 0
            for sql, params, many in self.click[0][1]:
                if isinstance(params, dict) and "case_id" in params:
                    params = {**params, "case_id": case_id}
                rows = self.run(cur, sql, params, many)
                if sql.lstrip().startswith("SELECT cases.id"):
                    state, version = rows[0][2], rows[0][3]
                    break
            answer = next(a for a in self.click if _from_state(a[1]) == state)
            status, statements, body, headers = answer
            after = next(
                i for i, s in enumerate(statements) if s[0].lstrip().startswith("SELECT cases.id")
            )
            for sql, params, many in statements[after + 1 :]:
                if isinstance(params, dict) and "case_id" in params:
                    params = {**params, "case_id": case_id}
                    if "old_version" in params:
                        params.update(old_version=version, new_version=version + 1)
                self.run(cur, sql, params, many)
        self.connection().commit()
        return status, body, headers


def _from_state(statements: list[Any]) -> Any:
    return next(
        p["from_state"] for _, p, _ in statements if isinstance(p, dict) and "from_state" in p
    )


class TwinServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Twin, opts: dict[str, Any]) -> None:
        self.app, self.opts = app, opts
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.opts.items():
            self.cfg.set(key, value)

    def load(self) -> Twin:
        return self.app


def main() -> None:
    script_path, dsn, port, workers = sys.argv[1:5]
    with open(script_path) as handle:
        script = json.load(handle)
    TwinServer(Twin(script, dsn), options("127.0.0.1", int(port), int(workers))).run()


if __name__ == "__main__":
    main()
