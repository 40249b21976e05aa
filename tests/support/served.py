"""The production server as tests meet it: ``kflow serve`` (gunicorn, several workers) on a
free port, and plain HTTP to it (http.client, one connection per request, as gunicorn's sync
workers close each one).

The server's output (the access log and any traceback) goes to a file, never to a pipe nobody
reads; ``Served.log()`` returns it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.processes import KFLOW
from tests.support.smtp import free_port


@dataclasses.dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None


def call(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    timeout: float = 60,
) -> Answer:
    """One HTTP request to 127.0.0.1:``port``; the JSON body parsed (None if it is not JSON)."""
    headers = {"Accept": "application/json"}
    payload = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=headers)
        reply = connection.getresponse()
        raw = reply.read()
        parsed: Any = None
        if reply.getheader("Content-Type", "").startswith("application/json"):
            parsed = json.loads(raw)
        return Answer(reply.status, parsed, dict(reply.getheaders()))
    finally:
        connection.close()


@dataclasses.dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Answer:
        return call(self.port, method, path, token, body)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def serving(
    env: dict[str, str], log_path: Path, workers: int = 4, port: int | None = None
) -> Iterator[Served]:
    """``kflow -v serve`` with ``workers`` workers (kflow's INFO lines in the log too) on
    ``port`` (a free one if None); stopped (SIGTERM, then SIGKILL) afterwards."""
    port = port or free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [KFLOW, "-v", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(port, process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"kflow serve stopped:\n{served.log()}"
            with contextlib.suppress(OSError):
                if call(port, "GET", "/healthz", timeout=5).status == 200:
                    break
            assert time.monotonic() < deadline, f"kflow serve did not answer:\n{served.log()}"
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
