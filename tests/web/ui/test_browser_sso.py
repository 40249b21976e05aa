"""Single sign-on in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright) signs in through the test OpenID Connect provider (tests/oidc/provider.mjs) to a
real ``kflow serve`` (gunicorn, two workers), configured as an operator would: by
``KFLOW_OIDC__*`` environment variables. Saves docs/screenshots/inloggning-sso.png.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.db import make_engine
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User
from tests.support.cli_support import ROOT
from tests.support.idp import CLIENT_ID, CLIENT_SECRET, missing, provider
from tests.support.served import serving
from tests.web.ui.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    free_port,
    run_kflow,
    screenshot,
)

if reason := missing():
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.slow

BERTIL_HSA = "SE2321000131-E000000000001"  # provider.mjs's bertil


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def kflow_page(browser: Browser, app_url: str) -> Iterator[Page]:
    """A fresh context; no console errors on kflow's own pages (the provider's are its own)."""
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm", viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and page.url.startswith(app_url):
            errors.append(f"{message.text} {message.location['url']}")

    page.on("console", console)
    yield page
    context.close()
    assert errors == []


def test_a_user_signs_in_and_out_through_the_provider(chromium: Browser, tmp_path: Path) -> None:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'kflow.db'}"
    with provider(app_url, tmp_path / "provider.log") as idp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
        env.update(
            KFLOW_CONFIG=str(ROOT / "config" / "development.toml"),
            KFLOW_INSTANCE_PATH=str(tmp_path),
            KFLOW_DATABASE_URL=database,
            KFLOW_MAIL__DIR=str(tmp_path / "outbox"),
            KFLOW_BASE_URL=app_url,
            KFLOW_OIDC__ISSUER=idp.issuer,
            KFLOW_OIDC__CLIENT_ID=CLIENT_ID,
            KFLOW_OIDC__CLIENT_SECRET=CLIENT_SECRET,
            KFLOW_OIDC__HSA_ID_CLAIM="hsa_id",
            KFLOW_OIDC__ROLE_MAPPINGS="kflow-samordnare-vgr=coordinator@vgr",
            PYTHONUNBUFFERED="1",
        )
        run_kflow(env, "db", "upgrade")
        run_kflow(env, "seed")
        engine = make_engine(database)
        with Session(engine) as session, session.begin():  # known to kflow by HSA-id only
            bertil = org_users.create_user(session, "bertil@vgr.example.se", "Bertil Berg")
            bertil.hsa_id = BERTIL_HSA
        engine.dispose()
        with serving(env, tmp_path / "serve.log", workers=2, port=port) as served:
            for page in kflow_page(chromium, app_url):
                page.goto(f"{app_url}/login")
                sso = page.get_by_role("link", name="Logga in med SITHS eID")
                expect(sso).to_be_visible()
                screenshot(page, "inloggning-sso.png", full_page=False)
                sso.click()
                # At the provider: who are you?
                expect(page.get_by_role("heading", level=1)).to_have_text("Test-IdP")
                page.get_by_label("Användare").fill("bertil")
                page.get_by_role("button", name="Logga in").click()
                # Back in kflow, signed in.
                expect(page.get_by_role("heading", level=1)).to_have_text("Min inkorg")
                expect(page.locator(".flash-success")).to_have_text("Välkommen, Bertil Berg!")
                expect(page.locator(".who")).to_have_text("Inloggad som Bertil Berg")
                # Signing out goes by the provider (a form redirected there: CSP allows it).
                page.get_by_role("button", name="Logga ut").click()
                expect(page.get_by_role("heading", level=1)).to_have_text("Logga ut från Test-IdP?")
                page.get_by_role("button", name="Ja, logga ut").click()
                expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
                expect(page.locator(".flash-success")).to_have_text("Du är utloggad.")
        output = served.log()
        assert "Traceback" not in output and '" 500 ' not in output, output[-4000:]
    # The mapped group made him the region's coordinator.
    engine = make_engine(database)
    with Session(engine) as session:
        held = session.execute(
            select(Membership.role, Unit.code)
            .join(Unit, Unit.id == Membership.unit_id)
            .join(User, User.id == Membership.user_id)
            .where(User.hsa_id == BERTIL_HSA)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in held] == [("coordinator", "vgr")]
