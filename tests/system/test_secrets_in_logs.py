"""Secrets never reach a log: passwords, tokens, the secret key, the SMTP and database passwords.

Real flows with logging at DEBUG for every logger: signing in with a password, the API with
bearer tokens (and making one), mail relayed over SMTP with a login, the database reached
through a URL with a password. In process (caplog) and as real processes: ``kflow -v serve``
(gunicorn with its access log) and ``kflow -v remind``, and the error
paths where a secret is most likely to be echoed (a database that cannot be reached, a secret
of the wrong type in a configuration file).
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from kflow.accounts import tokens as api_tokens
from kflow.config import MailSettings
from kflow.jobs.relay import relay
from kflow.org import users as org_users
from kflow.runtime import Runtime
from kflow.web import create_app
from kflow.web.ui.base import HSTS
from tests.support.processes import cli_env, committed_world, kflow
from tests.support.served import serving
from tests.support.smtp import HOST, Capture, free_port
from tests.support.timeline import at, handed_off
from tests.support.ui_support import csrf_token

SECRET_KEY = "sk-" + secrets.token_hex(16)
SMTP_USER = "kflow-relay"
SMTP_PASSWORD = "smtp-" + secrets.token_hex(12)
DB_PASSWORD = "db-" + secrets.token_hex(12)
USER_PASSWORD = "pw-" + secrets.token_hex(10)
# The test's own SMTP server logs the AUTH exchange at DEBUG: it is the other side, not kflow.
FOREIGN_LOGGERS = ("mail.log",)


def fixed_secrets() -> list[str]:
    auth_plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    return [SECRET_KEY, SMTP_PASSWORD, DB_PASSWORD, USER_PASSWORD, auth_plain]


def leaks(texts: Iterable[str], wanted: Iterable[str]) -> list[str]:
    joined = "\n".join(texts)
    return [secret for secret in wanted if secret and secret in joined]


def test_the_leak_check_can_fail() -> None:
    assert leaks(["... token kf_abc123 used"], ["kf_abc123", "other"]) == ["kf_abc123"]
    assert leaks(["nothing here"], fixed_secrets()) == []


class SmtpWithLogin:
    """aiosmtpd that requires AUTH with SMTP_USER / SMTP_PASSWORD (plain text on 127.0.0.1)."""

    def __init__(self) -> None:
        self.capture = Capture()
        self.logins: list[bool] = []
        self.port = free_port()
        self.controller = Controller(
            self.capture,
            hostname=HOST,
            port=self.port,
            authenticator=self._check,
            auth_require_tls=False,
        )

    def _check(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == SMTP_USER.encode()
            and data.password == SMTP_PASSWORD.encode()
        )
        self.logins.append(ok)
        return AuthResult(success=ok)

    def mail(self) -> MailSettings:
        return MailSettings(
            backend="smtp",
            smtp_host=HOST,
            smtp_port=self.port,
            smtp_user=SMTP_USER,
            smtp_password=SMTP_PASSWORD,
            smtp_timeout=10,
            max_attempts=1,
        )

    def env(self) -> dict[str, str]:
        return {
            "KFLOW_MAIL_BACKEND": "smtp",
            "KFLOW_SMTP_HOST": HOST,
            "KFLOW_SMTP_PORT": str(self.port),
            "KFLOW_SMTP_USER": SMTP_USER,
            "KFLOW_SMTP_PASSWORD": SMTP_PASSWORD,
            "KFLOW_SMTP_TIMEOUT": "10",
        }


@pytest.fixture
def smtp() -> Iterator[SmtpWithLogin]:
    server = SmtpWithLogin()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


def with_db_password(url: str) -> str:
    """The URL with a password (PostgreSQL's trust authentication accepts any); SQLite's URL
    has no place for one."""
    if not url.startswith("postgresql"):
        return url
    return make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)


def prepare(runtime: Runtime) -> str:
    """A world with queued hand-off mail, and local-lead's real (scrypt) password."""
    with committed_world(runtime) as world:
        handed_off(world, at("2026-03-02"))
        org_users.set_password(world.users["local-lead"], USER_PASSWORD)
        world.users["vgr-lead"].password_hash = generate_password_hash("x" * 12, "pbkdf2:sha256:1")
        _, token = api_tokens.create_token(world.session, world.users["local-lead"], "loggtest")
    return token


def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG for the root logger and for every logger that set a level of its own (SQLAlchemy
    sets "sqlalchemy" to WARN, so its statements and parameters would otherwise stay quiet)."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            caplog.set_level(logging.DEBUG, logger=name)


def test_in_process_flows_log_no_secret(
    committed_runtime: Runtime,
    smtp: SmtpWithLogin,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = prepare(committed_runtime)
    settings = committed_runtime.settings.replace(
        database_url=with_db_password(committed_runtime.settings.resolved_database_url),
        secret_key=SECRET_KEY,
        mail=smtp.mail(),
    )
    runtime = Runtime.create(settings)
    every_logger_at_debug(caplog)
    try:
        app = create_app(runtime)
        client = app.test_client()
        field = csrf_token(client.get("/login").get_data(as_text=True))
        form = {"email": "local-lead@test.se", "csrf_token": field}
        assert (
            client.post("/login", data={**form, "password": "fel-" + USER_PASSWORD}).status_code
            == 200
        )
        signed_in = client.post("/login", data={**form, "password": USER_PASSWORD})
        assert signed_in.status_code == 303
        cookie = client.get_cookie("session")
        assert cookie is not None and client.get("/").status_code == 200

        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
        made = client.post("/api/v1/tokens", headers=bearer, json={"name": "ny"}).get_json()
        second = {"Authorization": f"Bearer {made['token']}"}
        assert client.get("/api/v1/inbox", headers=second).status_code == 200
        assert client.delete(f"/api/v1/tokens/{made['id']}", headers=second).status_code == 204
        assert client.get("/api/v1/me", headers=second).status_code == 401
        assert (
            client.get("/api/v1/me", headers={"Authorization": "Bearer kf_nope"}).status_code == 401
        )

        sent = relay(runtime)
        assert sent.sent >= 1 and smtp.logins and all(smtp.logins), (sent, smtp.logins)
    finally:
        runtime.engine.dispose()

    records = [r for r in caplog.records if not r.name.startswith(FOREIGN_LOGGERS)]
    texts = [logging.Formatter().format(r) for r in records]
    # Logging really was at DEBUG: the SQL (with its parameters) and kflow's own lines are here.
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    assert any(r.name.startswith("kflow") for r in records) or sent.sent
    output = capsys.readouterr()
    wanted = [*fixed_secrets(), token, made["token"], cookie.value]
    assert leaks([*texts, output.out, output.err], wanted) == []


def request(
    port: int,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read().decode(),
        )
    finally:
        connection.close()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_served_and_command_line_output_has_no_secret(
    committed_runtime: Runtime, smtp: SmtpWithLogin, tmp_path: Path
) -> None:
    """``kflow -v serve`` in production (gunicorn, two workers, access log) and the commands."""
    token = prepare(committed_runtime)
    env = cli_env(
        committed_runtime,
        KFLOW_ENVIRONMENT="production",
        KFLOW_SECRET_KEY=SECRET_KEY,
        KFLOW_DATABASE_URL=with_db_password(committed_runtime.settings.resolved_database_url),
        **smtp.env(),
    )
    log = tmp_path / "serve.log"
    with serving(env, log, workers=2) as server:
        port = server.port
        status, headers, page = request(port, "GET", "/login")
        assert status == 200 and headers["strict-transport-security"] == HSTS
        cookie = headers["set-cookie"].split(";", 1)[0]
        assert "Secure" in headers["set-cookie"]
        form = {"email": "local-lead@test.se", "csrf_token": csrf_token(page)}
        wrong = urlencode({**form, "password": "fel-" + USER_PASSWORD})
        assert request(port, "POST", "/login", wrong, {**FORM, "Cookie": cookie})[0] == 200
        right = urlencode({**form, "password": USER_PASSWORD})
        status, headers, _ = request(port, "POST", "/login", right, {**FORM, "Cookie": cookie})
        assert status == 303, status
        session_cookie = headers["set-cookie"].split(";", 1)[0]
        assert request(port, "GET", "/", headers={"Cookie": session_cookie})[0] == 200

        bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        assert request(port, "GET", "/api/v1/me", headers=bearer)[0] == 200
        status, headers, body = request(port, "POST", "/api/v1/tokens", '{"name": "ny"}', bearer)
        assert status == 201 and headers["cache-control"] == "no-store"
        made = re.search(r'"token":\s*"([^"]+)"', body)
        assert made is not None
        second = {"Authorization": f"Bearer {made.group(1)}"}
        assert request(port, "GET", "/api/v1/inbox", headers=second)[0] == 200
        assert (
            request(port, "GET", "/api/v1/me", headers={"Authorization": "Bearer kf_x"})[0] == 401
        )

        # The throttle holds across the workers: five failures for an account, then 429.
        guess = {"email": "ingen@test.se", "password": "gissning", "csrf_token": form["csrf_token"]}
        statuses = [
            request(port, "POST", "/login", urlencode(guess), {**FORM, "Cookie": cookie})
            for _ in range(6)
        ]
        assert [s for s, _, _ in statuses] == [200] * 5 + [429]
        assert int(statuses[-1][1]["retry-after"]) > 0

        # Secrets in an address (a reset link, a calendar feed) stay out of the access log.
        link_secret, feed_secret = "aB3-reset-link-secret-Xy9", "kfc_feed-secret-Zq7"
        assert request(port, "GET", f"/aterstall-losenord/{link_secret}")[0] == 410
        assert request(port, "GET", f"/kalender/{feed_secret}.ics")[0] == 404
        asked = urlencode({"email": "local-lead@test.se", "csrf_token": form["csrf_token"]})
        assert request(port, "POST", "/glomt-losenord", asked, {**FORM, "Cookie": cookie})[0] == 200

    relayed = kflow(env, "-v", "remind")
    assert smtp.logins and all(smtp.logins), relayed.stderr
    assert smtp.capture.received, relayed.stderr

    served_log = log.read_text()
    assert '"POST /login HTTP/1.1" 303' in served_log  # the access log was written
    assert '"GET /api/v1/me HTTP/1.1" 200' in served_log
    assert '"GET /aterstall-losenord/… HTTP/1.1" 410' in served_log
    mailed = re.findall(r"/aterstall-losenord/([A-Za-z0-9_-]{20,})", str(smtp.capture.received))
    assert mailed, "the reset link was mailed"
    outputs = [served_log, relayed.stdout, relayed.stderr]
    wanted = [*fixed_secrets(), token, made.group(1), session_cookie.split("=", 1)[1]]
    wanted += [link_secret, feed_secret, *mailed]
    assert leaks(outputs, wanted) == []


def test_error_messages_do_not_echo_secrets(tmp_path: Path) -> None:
    """The places a secret is most likely echoed: a database that cannot be reached (its URL),
    and a secret of the wrong type in a configuration file (its value)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    unreachable = dict(
        base,
        KFLOW_ENVIRONMENT="development",
        KFLOW_DATABASE_URL=f"postgresql+psycopg://kflow:{DB_PASSWORD}@127.0.0.1:1/kflow",
    )
    failed = kflow(unreachable, "-v", "db", "upgrade", ok=False)
    assert failed.returncode == 1 and "could not be used" in failed.stderr, failed.stderr
    number = str(secrets.randbelow(10**12) + 10**11)
    config = tmp_path / "fel.toml"
    config.write_text(f'environment = "development"\n[mail]\nsmtp_password = {number}\n')
    mistyped = kflow(dict(base, KFLOW_CONFIG=str(config)), "-v", "db", "check", ok=False)
    assert "mail.smtp_password" in mistyped.stderr and "hidden" in mistyped.stderr
    outputs = [failed.stdout, failed.stderr, mistyped.stdout, mistyped.stderr]
    assert leaks(outputs, [DB_PASSWORD, number]) == []
