"""Signing in and out, session cookies, `next` validation, CSRF and security headers."""

from __future__ import annotations

import pytest

from kflow.accounts import tokens as api_tokens
from kflow.org import users as org_users
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.conftest import make_settings
from tests.support.ui_support import Ui, csrf_token
from tests.support.world import PASSWORD, World


def test_pages_need_sign_in(ui: Ui) -> None:
    for path in ("/", "/oversikt", "/oversikt.csv", "/arenden/1", "/admin/"):
        page = ui.get(path, expect=302)
        location = page.response.headers["Location"]
        assert location.startswith("/login?next="), location


def test_login_page_has_labelled_fields(ui: Ui) -> None:
    page = ui.get("/login")
    doc = page.doc
    assert doc.find("html").attrs["lang"] == "sv"
    for field in ("email", "password"):
        control = doc.by_id(field)
        assert control.attrs["name"] == field
        assert doc.find("label", for_=field).text
    assert doc.find("input", name="csrf_token").attrs["value"]
    assert "Logga in" in page.buttons()


def test_login_and_logout(ui: Ui) -> None:
    page = ui.login("local-lead")
    assert page.response.headers["Location"] == "/"
    inbox = ui.get("/")
    assert "Min inkorg" in inbox.text
    assert "Välkommen, Local Lead!" in inbox.text
    assert "Logga ut" in [b.text for b in inbox.doc.find_all("button")]
    out = ui.post("/logout", {}, expect=303)
    assert out.response.headers["Location"] == "/login"
    assert "Du är utloggad." in ui.get("/login").text
    ui.get("/", expect=302)


def test_logout_is_post_only(ui: Ui) -> None:
    ui.login("local-lead")
    assert ui.get("/logout", expect=None).status == 405
    ui.get("/")  # still signed in


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("local-lead@test.se", "wrong-password"),
        ("nobody-here@test.se", PASSWORD),
        ("local-lead@test.se", ""),
    ],
)
def test_bad_credentials(ui: Ui, email: str, password: str) -> None:
    ui.set_password("local-lead")
    page = ui.post("/login", {"email": email, "password": password}, expect=200)
    assert "Fel e-postadress eller lösenord." in page.text
    assert page.doc.by_id("email").attrs["value"] == email
    ui.get("/", expect=302)


def test_email_is_case_insensitive(ui: Ui) -> None:
    ui.set_password("local-lead")
    ui.post("/login", {"email": " Local-Lead@TEST.se ", "password": PASSWORD}, expect=303)
    ui.get("/")


def test_user_without_password_or_inactive_cannot_sign_in(ui: Ui, world: World) -> None:
    page = ui.post("/login", {"email": "nobody@test.se", "password": PASSWORD}, expect=200)
    assert "Fel e-postadress" in page.text
    ui.set_password("npo-chair")
    world.users["npo-chair"].is_active = False
    world.session.flush()
    page = ui.post("/login", {"email": "npo-chair@test.se", "password": PASSWORD}, expect=200)
    assert "Fel e-postadress" in page.text


def test_deactivation_and_password_change_end_sessions(ui: Ui, world: World) -> None:
    ui.login("local-lead")
    user = world.users["local-lead"]
    org_users.set_password(user, "another-password-1")
    world.session.flush()
    ui.get("/", expect=302)
    ui.post("/login", {"email": user.email, "password": "another-password-1"}, expect=303)
    ui.get("/")
    user.is_active = False
    world.session.flush()
    ui.get("/", expect=302)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/arenden/5", "/arenden/5"),
        ("/oversikt?kind=vardprogram", "/oversikt?kind=vardprogram"),
        ("http://localhost/oversikt", "/oversikt"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("oversikt", "/"),
    ],
)
def test_next_is_validated(ui: Ui, next_url: str, expected: str) -> None:
    ui.set_password("local-lead")
    page = ui.post(
        "/login",
        {"email": "local-lead@test.se", "password": PASSWORD, "next": next_url},
        expect=303,
    )
    assert page.response.headers["Location"] == expected


def test_next_survives_the_login_form(ui: Ui) -> None:
    page = ui.get("/login", next="/oversikt")
    assert page.doc.find("input", name="next").attrs["value"] == "/oversikt"
    evil = ui.get("/login", next="https://evil.example/")
    assert not evil.doc.find_all("input", name="next")


def test_session_cookie_flags(runtime: Runtime, world: World) -> None:
    ui = Ui(runtime, world)
    ui.set_password("local-lead")
    response = ui.client.post("/login", data={"email": "local-lead@test.se", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development settings: plain http works locally
    production = runtime.settings.replace(environment="production", secret_key="x" * 40)
    app = create_app(Runtime(production, runtime.engine, runtime.sessions))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_csrf_is_enforced(runtime: Runtime, world: World) -> None:
    ui = Ui(runtime, world, csrf=True)
    assert ui.app.config["WTF_CSRF_ENABLED"] is True
    ui.set_password("local-lead")
    data = {"email": "local-lead@test.se", "password": PASSWORD}
    refused = ui.post("/login", data, expect=400)
    assert "säkerhetskontrollen (CSRF)" in refused.text
    ui.post("/login", {**data, "csrf_token": "forged"}, expect=400)
    token = csrf_token(ui.get("/login").html)
    ui.post("/login", {**data, "csrf_token": token}, expect=303)
    ui.post("/logout", {}, expect=400)  # logging out is a POST like any other
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    page = ui.get(f"/arenden/{li.id}")
    form = page.doc.by_id("handling-acknowledge")
    assert form.find("input", name="csrf_token").attrs["value"]
    ui.post(
        f"/arenden/{li.id}/handling",
        {"trigger": "acknowledge", "lock_version": str(li.lock_version)},
        expect=400,
    )
    world.session.refresh(li)
    assert li.state == "assigned"
    ui.post(
        f"/arenden/{li.id}/handling",
        {
            "trigger": "acknowledge",
            "lock_version": str(li.lock_version),
            "csrf_token": csrf_token(page.html),
        },
        expect=303,
    )
    world.session.refresh(li)
    assert li.state == "acknowledged"


def test_every_form_carries_a_csrf_token(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("adapting")
    ui.login("vgr-coordinator")
    for path in ("/", "/oversikt", f"/arenden/{ra.id}"):
        _assert_tokens(ui.get(path))
    ui.login("admin")
    for path in ("/admin/", "/admin/enheter", "/admin/behorigheter", "/admin/api-nycklar"):
        _assert_tokens(ui.get(path))


def _assert_tokens(page: object) -> None:
    doc = page.doc  # type: ignore[attr-defined]
    for form in doc.find_all("form"):
        if form.attrs.get("method", "get").lower() == "post":
            assert form.find_all("input", name="csrf_token"), form.attrs


def test_api_is_exempt_from_csrf(runtime: Runtime, world: World) -> None:
    ui = Ui(runtime, world, csrf=True)
    _, token = api_tokens.create_token(world.session, world.users["npo-chair"], "test")
    world.session.flush()
    response = ui.client.post(
        "/api/v1/knowledge-supports",
        json={"title": "Via API", "kind": "rapport", "owner": "npo-psykisk-halsa"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()


def test_security_headers(ui: Ui) -> None:
    response = ui.get("/login").response
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # no scripts at all
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_stylesheet_is_served(ui: Ui) -> None:
    page = ui.get("/login")
    href = page.doc.find("link", rel="stylesheet").attrs["href"]
    css = ui.get(href)
    assert css.response.mimetype == "text/css"
    assert ":focus-visible" in css.html
    assert ".skip-link:focus" in css.html


def test_unknown_page_is_a_swedish_404(ui: Ui) -> None:
    ui.login("local-lead")
    page = ui.get("/finns-inte", expect=404)
    assert "Sidan finns inte" in page.text


def test_settings_fixture_is_development() -> None:
    assert make_settings().is_development
