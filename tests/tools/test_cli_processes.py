"""The installed ``kflow`` entry point and ``kflow serve`` (gunicorn), as real processes."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time

import pytest

from tests.support.cli_support import KFLOW, TOKEN_RE, Cli, environment

# --- The installed entry point, as a real process --------------------------------------------


def run_kflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KFLOW), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_kflow_command(database, tmp_path):
    env = environment(database.new_database("proc"), tmp_path)
    for args in (("db", "upgrade"), ("seed",), ("user", "create", "a@b.se", "--name", "A")):
        done = run_kflow(env, *args)
        assert done.returncode == 0, done.stderr
    done = run_kflow(env, "token", "create", "a@b.se")
    assert done.returncode == 0, done.stderr
    assert TOKEN_RE.match(done.stdout.strip().splitlines()[-1])
    failed = run_kflow(env, "fire", "knowledge_support", "1", "commission", "--as", "a@b.se")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()]
    assert failed.stderr.startswith("Error: ") and "(not_found)" in failed.stderr


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple:
    """One real HTTP GET: status, headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_runs_gunicorn_and_answers_over_http(tmp_path):
    cli = Cli(environment(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path))
    cli.ok("db", "upgrade")
    cli.ok("seed")
    cli.ok("user", "create", "web@region.se", "--name", "Web")
    cli.ok("user", "grant", "web@region.se", "viewer", "vgr")
    token = cli.token("web@region.se")
    port = free_port()
    server = subprocess.Popen(
        [str(KFLOW), "serve", "--port", str(port), "--workers", "1"],
        env={**os.environ, **cli.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                status, headers, body = http_get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "kflow serve did not answer in 30 s"
                time.sleep(0.2)
        assert (status, body) == (200, b'{"status":"ok"}\n')
        assert headers["Content-Type"].startswith("application/json")
        status, _, body = http_get(port, "/api/v1/me", {"Authorization": f"Bearer {token}"})
        assert status == 200 and b'"web@region.se"' in body
        status, headers, body = http_get(port, "/api/v1/inbox")
        assert status == 401 and b'"unauthenticated"' in body
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output
    assert "gunicorn" in output.lower() or "Booting worker" in output or "Listening" in output
    assert "GET /healthz" in output  # the access log
