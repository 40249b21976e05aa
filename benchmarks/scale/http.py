"""Pages and the API click through HTTP: ``kflow serve`` (gunicorn, its production settings) on
a PostgreSQL data set, driven by ``wrk`` from another process on 127.0.0.1, beside the WSGI
twin (benchmarks.scale.twin) on the same gunicorn settings.

Each run is closed-loop: one connection per gunicorn worker (wrk ``-t N -c N``), so every
worker is busy and a request's latency is its service time on a busy machine. The click is
``POST /api/v1/regional-adaptations/<id>/transitions``, put_on_hold and resume in turn, each
connection on a regional adaptation of its own (in ``assessing``), as VGR's coordinator with
an API token. The pages are read by VGR's process lead, signed in with a password: Min inkorg
(``/``), a knowledge support's page, Översikt, Uppföljning and the chain history CSV; the
knowledge support's remissammanställning (the consultation summary) by its NPO's chair.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, pg_dsn, pg_url

SECRET = "bench-scale-secret-key-not-for-production-0123456789"  # noqa: S105
USER_AGENT = "kflow-bench-scale"
PASSWORD = "bench-scale-password"  # noqa: S105
CLICK = "click"
PAGES = ("inbox", "case", "overview", "followup", "history_csv", "consultation")


def env(db: str, tmp: Path) -> dict[str, str]:
    """The served kflow's configuration: production, the data set, mail to a file outbox."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")},
        "KFLOW_ENVIRONMENT": "production",
        "KFLOW_SECRET_KEY": SECRET,
        "KFLOW_DATABASE_URL": pg_url(db),
        "KFLOW_INSTANCE_PATH": str(tmp / "instance"),
        "KFLOW_MAIL_BACKEND": "file",
        "KFLOW_MAIL_DIR": str(tmp / "outbox"),
    }


def prepare(
    db: str, info: dict[str, Any], facts: dict[str, Any], tmp: Path, clickers: int
) -> dict[str, Any]:
    """On a writable copy: a password for VGR's process lead, an API token for VGR's
    coordinator, and ``clickers`` + 1 of VGR's regional adaptations put in ``assessing`` (the
    last for the capture). Then kflow serves each request once in-process while the capture
    records its SQL and answer (benchmarks.scale.capture)."""
    import psycopg

    from benchmarks.scale.capture import Recorder, capture
    from kflow.accounts import tokens
    from kflow.config import load_settings
    from kflow.org import users as org_users
    from kflow.org.models import User
    from kflow.runtime import Runtime
    from kflow.web import create_app

    vgr = next(r for r in info["regions"] if r["code"] == "vgr")
    with psycopg.connect(pg_dsn(db)) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM cases WHERE type = 'regional_adaptation' AND region_id = %s "
                "ORDER BY id LIMIT %s",
                (vgr["id"], clickers + 1),
            )
        ]
        conn.execute("UPDATE cases SET state = 'assessing', due = NULL WHERE id = ANY(%s)", (ids,))
    settings = load_settings(environ=env(db, tmp))
    runtime = Runtime.create(settings)
    with runtime.transaction() as session:
        emails = []
        for user_id in (vgr["lead"], facts["history_chair"]):
            user = session.get(User, user_id)
            org_users.set_password(user, PASSWORD)
            emails.append(user.email)
        coordinator = session.get(User, vgr["coordinator"])
        _, token = tokens.create_token(session, coordinator, "bench-scale")
    app = create_app(runtime)
    lead, chair = (_signed_in(app, email) for email in emails)
    recorder = Recorder(runtime.engine)
    ks = facts["history_ks"]
    paths = {
        "inbox": "/",
        "case": f"/arenden/{ks}",
        "overview": "/oversikt",
        "followup": "/uppfoljning",
        "history_csv": f"/arenden/{ks}/historik.csv",
        # read by the knowledge support's NPO chair (only its owner reads every answer)
        "consultation": f"/arenden/{ks}/remissammanstallning",
    }
    readers = {page: chair if page == "consultation" else lead for page in paths}
    script: dict[str, list[dict[str, Any]]] = {}
    for page, path in paths.items():
        script[f"GET {path}"] = [capture(readers[page][0], recorder, "GET", path)]
    auth = {"Authorization": f"Bearer {token}"}
    click_path = f"/api/v1/regional-adaptations/{ids[-1]}/transitions"
    script["POST /click"] = [
        capture(lead[0], recorder, "POST", click_path, json=body, headers=auth)
        for body in (HOLD, RESUME)
    ]
    runtime.engine.dispose()
    statements = {key: len(v[0]["statements"]) for key, v in script.items()}
    return {
        "script": script,
        "paths": paths,
        "cookie": lead[1],
        "cookies": {page: reader[1] for page, reader in readers.items()},
        "token": token,
        "click_ids": ids[:-1],
        "statements": statements,
    }


def _signed_in(app: Any, email: str) -> tuple[Any, str]:
    """A test client signed in as ``email`` with the benchmark password, and its cookie."""
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": USER_AGENT, "REMOTE_ADDR": "127.0.0.1"})
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, "no csrf_token on /login"
    signed_in = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    assert signed_in.status_code == 303, signed_in.status_code
    cookie = client.get_cookie("session")
    assert cookie is not None
    return client, f"session={cookie.value}"


HOLD = {"trigger": "put_on_hold", "comment": "Väntar på underlag från förvaltningen."}
RESUME = {"trigger": "resume"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served(int):
    """A server's port, which also knows the server's pid."""

    pid: int


@contextlib.contextmanager
def serving(command: list[str], environment: dict[str, str], log_path: Path) -> Iterator[Served]:
    """Start a server (its port is the command's ``{port}``); stop it afterwards."""
    port = _free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log_path.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=out)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited: see {log_path}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{command[:3]} did not listen on {port}")
        served = Served(port)
        served.pid = proc.pid
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kflow_command(workers: int) -> list[str]:
    kflow = str(Path(sys.executable).parent / "kflow")
    return [kflow, "serve", "--port", "{port}", "--workers", str(workers)]


def twin_command(script: Path, db: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.scale.twin",
        str(script),
        pg_dsn(db),
        "{port}",
        str(workers),
    ]


LUA_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_page(path: str, cookie: str) -> str:
    return (
        f"""
wrk.method = "GET"
wrk.path = {json.dumps(path)}
wrk.headers["Cookie"] = {json.dumps(cookie)}
wrk.headers["User-Agent"] = {json.dumps(USER_AGENT)}
"""
        + LUA_DONE
    )


def lua_click(ids: list[int], token: str, twin: bool) -> str:
    # Lua long strings (LuaJIT knows no \u escapes; the JSON keeps its own).
    hold, resume = f"[[{json.dumps(HOLD)}]]", f"[[{json.dumps(RESUME)}]]"
    path = '"/api/v1/regional-adaptations/" .. case .. "/transitions"'
    return (
        f"""
local ids = {{{", ".join(str(i) for i in ids)}}}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("case", ids[n])
end
local hold = true
function request()
  local body = hold and {hold} or {resume}
  hold = not hold
  return wrk.format("POST", {path}, {{["Authorization"] = "Bearer {token}",
    ["Content-Type"] = "application/json", ["User-Agent"] = "{USER_AGENT}"}}, body)
end
"""
        + LUA_DONE
    )


def wrk(port: int, lua: str, connections: int, seconds: int, tmp: Path) -> dict[str, Any]:
    script = tmp / f"wrk-{port}-{time.monotonic_ns()}.lua"
    script.write_text(lua)
    done = subprocess.run(  # noqa: S603
        [shutil.which("wrk") or "wrk", "-t", str(connections), "-c", str(connections),
         "-d", f"{seconds}s", "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    raw = json.loads(line[4:])
    seconds_run = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": errors,
    }
