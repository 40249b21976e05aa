"""Memory and stability at scale.

* ``worker_rss``: one gunicorn worker of ``kflow serve`` (its production settings) answering
  20,000 requests in turn from a client in another process (the click, Min inkorg, a knowledge
  support's page, Översikt, the chain history CSV, round robin); the worker's resident set
  (VmRSS) after the first 1,000 and after all of them.
* ``process_peak``: a command (``kflow export``, ``kflow import``) run to its end in a process
  of its own while its peak resident set (VmHWM, from /proc) is read every 20 ms.
The sweep's peak is benchmarks.sweep_bench's, run on a copy of the data set.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def worker_pid(master: int) -> int:
    """The one worker of a gunicorn master."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def drive(
    port: int,
    requests: list[tuple[str, str, dict[str, str], bytes | None]],
    count: int,
    pid: int,
    marks: tuple[int, ...],
) -> dict[str, Any]:
    """``count`` requests round robin over ``requests``; the worker's VmRSS (MB) at ``marks``."""
    rss: dict[str, float] = {}
    failures = 0
    began = time.perf_counter()
    for n in range(1, count + 1):
        method, path, headers, body = requests[(n - 1) % len(requests)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        failures += response.status >= 400
        if n in marks:
            rss[str(n)] = round(_status_kb(pid, "VmRSS") / 1024, 1)
    return {
        "requests": count,
        "failures": failures,
        "seconds": round(time.perf_counter() - began, 1),
        "rss_mb": rss,
    }


def process_peak(command: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``command`` to its end; its peak resident set in MB and its time."""
    began = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError, KeyError):
            peak = max(peak, _status_kb(proc.pid, "VmHWM"))
        time.sleep(0.02)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({proc.returncode}): see {log}")
    return {"peak_rss_mb": round(peak / 1024, 1), "seconds": round(time.perf_counter() - began, 1)}


def click_bodies() -> tuple[bytes, bytes]:
    from benchmarks.scale.http import HOLD, RESUME

    return json.dumps(HOLD).encode(), json.dumps(RESUME).encode()
