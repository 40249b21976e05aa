"""Security headers on every kind of response, HSTS outside development, no inline script."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from kflow.accounts import tokens as api_tokens
from kflow.config import LoginSettings
from kflow.runtime import Runtime
from kflow.web import create_app
from kflow.web.ui.base import CSP, HSTS
from tests.support.ui_support import csrf_token
from tests.support.world import PASSWORD, World

TEMPLATES = Path(__file__).resolve().parents[3] / "kflow" / "web" / "templates"
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}


def boom() -> Any:
    raise RuntimeError("a bug, for the 500 page")


def make_app(runtime: Runtime, environment: str) -> Flask:
    settings = runtime.settings.replace(
        environment=environment,
        secret_key="s" * 40,
        login=LoginSettings(max_failures_per_account=1, max_failures_per_address=50),
    )
    app = create_app(Runtime(settings, runtime.engine, runtime.sessions))
    app.add_url_rule("/trasig", "boom", boom)
    app.add_url_rule("/api/v1-trasig", "api_boom", boom)
    return app


def responses(app: Flask, world: World) -> dict[str, TestResponse]:
    """One response of every kind: pages, JSON, static files, redirects, errors."""
    user = world.users["local-lead"]
    user.password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    _, token = api_tokens.create_token(world.session, user, "headers")
    world.session.flush()
    bearer = {"Authorization": f"Bearer {token}"}
    client: FlaskClient = app.test_client()
    found: dict[str, TestResponse] = {}

    def take(name: str, call: Callable[[], TestResponse], status: int) -> None:
        response = call()
        assert response.status_code == status, (name, response.status_code)
        found[name] = response

    take("login page", lambda: client.get("/login"), 200)
    take("redirect to login", lambda: client.get("/"), 302)
    take("stylesheet", lambda: client.get("/static/kflow.css"), 200)
    take("healthz", lambda: client.get("/healthz"), 200)
    take("openapi", lambda: client.get("/api/v1/openapi.json"), 200)
    take("api 401", lambda: client.get("/api/v1/me"), 401)
    take("api 200", lambda: client.get("/api/v1/me", headers=bearer), 200)
    take("api 404", lambda: client.get("/api/v1/finns-inte", headers=bearer), 404)
    take("api 405", lambda: client.delete("/api/v1/me", headers=bearer), 405)
    take("api 500", lambda: client.get("/api/v1-trasig"), 500)
    take("csrf refusal", lambda: client.post("/login", data={"email": "x"}), 400)
    token_field = csrf_token(client.get("/login").get_data(as_text=True))
    wrong = {"email": user.email, "password": "fel-lösenord", "csrf_token": token_field}
    take("bad password", lambda: client.post("/login", data=wrong), 200)
    take("throttled login", lambda: client.post("/login", data=wrong), 429)
    take("page 404 signed out", lambda: client.get("/finns-inte"), 404)
    take("page 500", lambda: client.get("/trasig"), 500)
    signed_in = app.test_client()
    right = {"email": "vgr-lead@test.se", "password": PASSWORD}
    world.users["vgr-lead"].password_hash = user.password_hash
    world.session.flush()
    token_field = csrf_token(signed_in.get("/login").get_data(as_text=True))
    take("login", lambda: signed_in.post("/login", data={**right, "csrf_token": token_field}), 303)
    take("inbox", lambda: signed_in.get("/"), 200)
    take("csv", lambda: signed_in.get("/oversikt.csv"), 200)
    take("page 404", lambda: signed_in.get("/arenden/999999999"), 404)
    take("page 403", lambda: signed_in.get("/admin/"), 403)
    return found


@pytest.mark.parametrize("environment", ["production", "development"])
def test_every_response_carries_the_headers(
    runtime: Runtime, world: World, environment: str
) -> None:
    app = make_app(runtime, environment)
    found = responses(app, world)
    assert len(found) >= 20
    for name, response in found.items():
        for header, value in ALWAYS.items():
            assert response.headers.get(header) == value, (name, header)
        hsts = response.headers.get("Strict-Transport-Security")
        assert hsts == (HSTS if environment == "production" else None), (name, hsts)
    assert HSTS == "max-age=31536000; includeSubDomains"
    assert found["throttled login"].headers["Retry-After"]
    # The pages for errors are kflow's own: Swedish for people, JSON for the API.
    assert "Något gick fel hos kflow" in found["page 500"].get_data(as_text=True)
    assert found["api 500"].get_json()["error"]["code"] == "server_error"
    assert "a bug" not in found["page 500"].get_data(as_text=True)


def test_the_policy_allows_no_script_and_nothing_inline() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives  # default-src 'none': no script at all
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "data:" not in CSP
    # ...which the templates must live with: no <script>, no style="", no on*="" handlers.
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for pattern in (r"<script", r"\sstyle\s*=", r"\son[a-z]+\s*="):
            assert not re.search(pattern, text, re.IGNORECASE), (template.name, pattern)


def test_rendered_pages_have_no_inline_script_or_style(runtime: Runtime, world: World) -> None:
    """The generated parts too (the SVG lifecycle diagram, the overview matrix)."""
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    app = make_app(runtime, "development")
    client = app.test_client()
    world.users["vgr-lead"].password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    world.session.flush()
    app.config["WTF_CSRF_ENABLED"] = False
    assert (
        client.post("/login", data={"email": "vgr-lead@test.se", "password": PASSWORD}).status_code
        == 303
    )
    for path in ("/", "/oversikt", f"/arenden/{ks.id}", f"/arenden/{ra.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "<svg" in html or path in ("/", "/oversikt")
        for pattern in (r"<script", r"\sstyle\s*=", r"\son[a-z]+\s*=", r"javascript:"):
            assert not re.search(pattern, html, re.IGNORECASE), (path, pattern)
