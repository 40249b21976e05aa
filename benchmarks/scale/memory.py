"""Memory and stability at scale.

* ``worker_rss``: one gunicorn worker of ``kflow serve`` (its production settings) answering
  20,000 requests in turn from a client in another process (the click, Min inkorg, a knowledge
  support's page, Översikt, the chain history CSV, round robin); the worker's resident set
  (VmRSS) after the first 1,000 and after all of them.
* ``process_peak``: a command run to its end in a process of its own while its peak resident
  set (VmHWM, from /proc) is read every 20 ms; ``pipeline_peaks`` the same for ``kflow export -
  | kflow import -``, the two running side by side (the whole export never lies on disk, and
  the pair takes the time of the slower, not of both).
* ``process_until``: ``kflow scheduler`` on a copy of the data set until its start-up sweep
  has run (the log line "Start-up sweep: …"), its peak resident set read the same way.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import threading
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


def process_until(
    command: list[str], env: dict[str, str], log: Path, marker: str, timeout: float = 1800
) -> dict[str, Any]:
    """Run ``command`` (``kflow scheduler``) until a line holding ``marker`` appears in its log
    (its start-up sweep done), then stop it; its peak resident set in MB, the seconds to the
    marker and that line."""
    began = time.perf_counter()
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
    peak, line = 0, None
    try:
        while line is None:
            with contextlib.suppress(OSError, KeyError):
                peak = max(peak, _status_kb(proc.pid, "VmHWM"))
            with log.open("rb") as written:
                written.seek(start)
                line = next((x for x in written.read().decode(errors="replace").splitlines()
                             if marker in x), None)  # fmt: skip
            if proc.poll() is not None and line is None:
                raise RuntimeError(f"{command[:3]} exited ({proc.returncode}): see {log}")
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"{command[:3]}: no {marker!r} in {timeout} s: see {log}")
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        with contextlib.suppress(OSError, KeyError):
            peak = max(peak, _status_kb(proc.pid, "VmHWM"))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"peak_rss_mb": round(peak / 1024, 1), "seconds": round(seconds, 1), "log": line}


def pipeline_peaks(
    first: list[str], second: list[str], envs: tuple[dict[str, str], dict[str, str]], log: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``first | second`` (``kflow export - | kflow import -``: a database copied to
    another as operations would, each command on a core of its own) to the end; each one's
    peak resident set in MB, the seconds each ran and the bytes that went through the pipe."""
    began = time.perf_counter()
    with log.open("ab") as out:
        writer = subprocess.Popen(first, cwd=ROOT, env=envs[0], stdout=subprocess.PIPE,  # noqa: S603
                                  stderr=out)  # fmt: skip
        counter = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S607
        reader = subprocess.Popen(second, cwd=ROOT, env=envs[1], stdin=subprocess.PIPE,  # noqa: S603
                                  stdout=out, stderr=out)  # fmt: skip

    # tee: the stream goes to the import and its length to wc, in a thread of this process
    def tee() -> None:
        assert writer.stdout and reader.stdin and counter.stdin
        while chunk := writer.stdout.read(1 << 16):
            reader.stdin.write(chunk)
            counter.stdin.write(chunk)
        reader.stdin.close()
        counter.stdin.close()

    thread = threading.Thread(target=tee, daemon=True)
    thread.start()
    peaks = {writer.pid: 0, reader.pid: 0}
    ended: dict[int, float] = {}
    while len(ended) < 2:
        for proc in (writer, reader):
            if proc.pid in ended:
                continue
            with contextlib.suppress(OSError, KeyError):
                peaks[proc.pid] = max(peaks[proc.pid], _status_kb(proc.pid, "VmHWM"))
            if proc.poll() is not None:
                ended[proc.pid] = time.perf_counter() - began
        time.sleep(0.02)
    thread.join()
    assert counter.stdout is not None
    size = int(counter.stdout.read().split()[0])
    counter.wait()
    for proc, command in ((writer, first), (reader, second)):
        if proc.returncode != 0:
            raise RuntimeError(f"{command[:3]} failed ({proc.returncode}): see {log}")
    return tuple(  # type: ignore[return-value]
        {"peak_rss_mb": round(peaks[p.pid] / 1024, 1), "seconds": round(ended[p.pid], 1),
         "bytes": size, "piped": True}
        for p in (writer, reader)
    )  # fmt: skip


def click_bodies() -> tuple[bytes, bytes]:
    from benchmarks.scale.http import HOLD, RESUME

    return json.dumps(HOLD).encode(), json.dumps(RESUME).encode()
