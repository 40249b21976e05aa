"""Single sign-on end to end over HTTP: a real OpenID Connect provider (tests/oidc/provider.mjs)
and a real kflow WSGI server on 127.0.0.1, driven by ``requests`` as a browser would be
(cookies, redirects, the provider's log-in form). Each test has a committed database of its
own, on SQLite and on PostgreSQL.

The expired ID token is a real one: a second provider runs with its clock two hours slow
(``OIDC_CLOCK_OFFSET``), so the one-hour tokens it signs expired an hour ago. A provider whose
clock is a minute fast shows that small clock skew is tolerated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import func, select

from kflow.accounts.events import AccountEventKind
from kflow.accounts.models import AccountEvent, LoginFailure, SignInSession
from kflow.config import Settings
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.conftest import make_settings
from tests.support.idp import CALLBACK, AppServer, Idp, missing, oidc_settings, provider
from tests.support.smtp import free_port
from tests.support.ui_support import csrf_token, parse

if reason := missing():
    pytest.skip(reason, allow_module_level=True)

BERTIL_HSA = "SE2321000131-E000000000001"
MAPPINGS = ["kflow-samordnare-vgr=coordinator@vgr", "kflow-okand-enhet=member@finns-inte"]


@dataclasses.dataclass
class Sso:
    server: AppServer
    idp: Idp
    tmp: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    tmp = tmp_path_factory.mktemp("oidc")
    server = AppServer()
    try:
        with provider(server.url, tmp / "provider.log") as idp:
            yield Sso(server, idp, tmp)
    finally:
        server.close()


@pytest.fixture
def settings(sso: Sso) -> Settings:
    return make_settings(
        base_url=sso.url, oidc=oidc_settings(sso.idp.issuer, role_mappings=MAPPINGS)
    )


@pytest.fixture
def runtime(committed_runtime: Runtime) -> Runtime:
    """The committed database with Alice (known by e-mail) and Bertil (known by HSA-id)."""
    with committed_runtime.transaction() as s:
        org_users.create_user(s, "alice@example.se", "Alice Åström", "alice-password")
        bertil = org_users.create_user(s, "bertil@vgr.example.se", "Bertil Berg")
        bertil.hsa_id = BERTIL_HSA
        org_users.create_user(s, "inaktiv@example.se", "Ina Aktiv").is_active = False
    return committed_runtime


def serve(sso: Sso, runtime: Runtime, **oidc: Any) -> None:
    """Serve kflow on ``runtime``, its ``[oidc]`` changed by ``oidc``."""
    settings = runtime.settings
    settings = settings.replace(oidc=dataclasses.replace(settings.oidc, **oidc))
    sso.server.app = create_app(dataclasses.replace(runtime, settings=settings))


@pytest.fixture
def app(sso: Sso, runtime: Runtime) -> Sso:
    serve(sso, runtime)
    return sso


def to_callback(browser: requests.Session, sso: Sso, login: str, start: str = "") -> str:
    """Start signing in at kflow and sign in as ``login`` at the provider; the callback
    address the provider sends the browser to (not yet visited)."""
    form = browser.get(f"{sso.url}/login/sso{start}")
    assert form.status_code == 200, form.text
    assert form.url.startswith(f"{sso.idp.issuer}/interaction/"), form.url
    answer = browser.post(form.url, data={"login": login}, allow_redirects=False)
    while answer.headers["Location"].startswith(sso.idp.issuer):
        answer = browser.get(answer.headers["Location"], allow_redirects=False)
    location: str = answer.headers["Location"]
    assert location.startswith(f"{sso.url}{CALLBACK}?"), location
    return location


def sign_in(browser: requests.Session, sso: Sso, login: str, start: str = "") -> requests.Response:
    return browser.get(to_callback(browser, sso, login, start))


def count(runtime: Runtime, statement: Any) -> int:
    with runtime.transaction(write=False) as s:
        return int(s.scalar(statement) or 0)


def user(runtime: Runtime, email: str) -> User | None:
    with runtime.transaction(write=False) as s:
        return s.scalar(select(User).where(User.email == email))


def failures(runtime: Runtime, at_least: int) -> int:
    """The failed sign-ins recorded (after the answer, so wait a moment for them)."""
    deadline = time.monotonic() + 5
    while True:
        found = count(runtime, select(func.count()).select_from(LoginFailure))
        if found >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_login_page_offers_the_provider_first(app: Sso) -> None:
    page = requests.get(f"{app.url}/login", timeout=10)
    doc = parse(page.text)
    sso_link = doc.find("a", class_="button-sso")
    assert sso_link.text == "Logga in med Test-IdP"
    assert page.text.index("Logga in med Test-IdP") < page.text.index('id="password"')
    # Signing out redirects a form to the provider: the policy allows it.
    policy = page.headers["Content-Security-Policy"]
    assert f"form-action 'self' {app.idp.issuer};" in policy


def test_a_good_log_in(app: Sso, runtime: Runtime) -> None:
    browser = requests.Session()
    landed = sign_in(browser, app, "alice", "?next=/oversikt")
    assert landed.status_code == 200
    assert landed.url == f"{app.url}/oversikt"
    assert "Välkommen, Alice Åström!" in landed.text
    assert "Inloggad som Alice Åström" in landed.text
    with runtime.transaction(write=False) as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.se"))
        assert alice is not None and alice.last_login_at is not None
        rows = s.scalars(select(SignInSession).where(SignInSession.user_id == alice.id)).all()
        assert [(r.method, r.ended_at) for r in rows] == [("oidc", None)]
    assert count(runtime, select(func.count()).select_from(LoginFailure)) == 0
    # Signed in: the start page needs no further log-in.
    assert browser.get(f"{app.url}/").url == f"{app.url}/"


@pytest.mark.parametrize("state", ["fel-state", None])
def test_a_wrong_or_missing_state_is_refused(app: Sso, runtime: Runtime, state: Any) -> None:
    browser = requests.Session()
    callback = urlsplit(to_callback(browser, app, "alice"))
    query = dict(parse_qsl(callback.query))
    if state is None:
        del query["state"]
    else:
        query["state"] = state
    answer = browser.get(urlunsplit(callback._replace(query=urlencode(query))))
    assert answer.status_code == 400
    assert "Inloggningen misslyckades" in answer.text
    assert "Börja om från inloggningssidan" in answer.text
    assert count(runtime, select(func.count()).select_from(SignInSession)) == 0
    assert failures(runtime, 1) == 1  # counted against the address only: no account is named


def test_a_replayed_code_is_refused(app: Sso, runtime: Runtime) -> None:
    browser = requests.Session()
    callback = to_callback(browser, app, "alice")
    before = browser.cookies.copy()  # the cookie that still holds the state
    assert browser.get(callback).status_code == 200
    thief = requests.Session()
    thief.cookies.update(before)
    again = thief.get(callback)
    assert again.status_code == 400
    assert "Inloggningen misslyckades" in again.text
    assert count(runtime, select(func.count()).select_from(SignInSession)) == 1


def test_an_expired_id_token_is_refused(sso: Sso, runtime: Runtime) -> None:
    with provider(sso.url, sso.tmp / "slow.log", clock_offset=-7200) as slow:
        serve(sso, runtime, issuer=slow.issuer)
        slow_sso = dataclasses.replace(sso, idp=slow)
        answer = sign_in(requests.Session(), slow_sso, "alice")
    assert answer.status_code == 400
    assert "Inloggningen misslyckades" in answer.text
    assert count(runtime, select(func.count()).select_from(SignInSession)) == 0


def test_a_provider_clock_a_minute_fast_is_tolerated(sso: Sso, runtime: Runtime) -> None:
    with provider(sso.url, sso.tmp / "fast.log", clock_offset=60) as fast:
        serve(sso, runtime, issuer=fast.issuer)
        answer = sign_in(requests.Session(), dataclasses.replace(sso, idp=fast), "alice")
    assert answer.status_code == 200
    assert "Välkommen, Alice Åström!" in answer.text


def test_an_unknown_user_without_auto_create_is_told_so(app: Sso, runtime: Runtime) -> None:
    answer = sign_in(requests.Session(), app, "okand")
    assert answer.status_code == 403
    assert "Du har inget konto i kflow." in answer.text
    assert user(runtime, "okand@example.se") is None
    assert failures(runtime, 1) == 1


def test_an_unknown_user_with_auto_create_gets_an_account_without_roles(
    sso: Sso, runtime: Runtime
) -> None:
    serve(sso, runtime, auto_create=True)
    answer = sign_in(requests.Session(), sso, "okand")
    assert answer.status_code == 200
    assert "Välkommen, Olle Okänd!" in answer.text
    created = user(runtime, "okand@example.se")
    assert created is not None and created.name == "Olle Okänd"
    assert created.password_hash is None and created.last_login_at is not None
    with runtime.transaction(write=False) as s:
        events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == created.id)).all()
        assert [(e.kind, e.actor) for e in events] == [("created_by_sso", "kflow")]
        assert events[0].detail["issuer"] == sso.idp.issuer
        assert events[0].detail["subject"] == "okand"
        roles = s.scalar(select(func.count()).where(Membership.user_id == created.id))
        assert roles == 0


def test_a_mapped_group_grants_its_role_once(app: Sso, runtime: Runtime) -> None:
    for _ in range(2):
        answer = sign_in(requests.Session(), app, "bertil")
        assert answer.status_code == 200
        assert "Välkommen, Bertil Berg!" in answer.text  # found by HSA-id, not e-mail
    with runtime.transaction(write=False) as s:
        bertil = s.scalar(select(User).where(User.hsa_id == BERTIL_HSA))
        assert bertil is not None and bertil.email == "bertil@vgr.example.se"
        held = s.execute(
            select(Membership.role, Unit.code)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(Membership.user_id == bertil.id)
        ).all()
        assert [tuple(r) for r in held] == [("coordinator", "vgr")]  # finns-inte: ignored
        events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == bertil.id)).all()
        assert [(e.kind, e.detail) for e in events] == [
            (
                AccountEventKind.ROLE_GRANTED,
                {"role": "coordinator", "unit": "vgr", "group": "kflow-samordnare-vgr"},
            )
        ]


def test_an_inactive_user_is_refused(sso: Sso, runtime: Runtime) -> None:
    with runtime.transaction() as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.se"))
        assert alice is not None
        alice.is_active = False
    serve(sso, runtime)
    answer = sign_in(requests.Session(), sso, "alice")
    assert answer.status_code == 403
    assert "Ditt konto i kflow är inaktiverat." in answer.text


def test_a_provider_that_is_down_gives_a_clear_page(sso: Sso, runtime: Runtime) -> None:
    # Down from the start: discovery fails.
    serve(sso, runtime, issuer=f"http://127.0.0.1:{free_port()}")
    answer = requests.get(f"{sso.url}/login/sso", timeout=10)
    assert answer.status_code == 503
    assert "Inloggningstjänsten svarar inte just nu" in answer.text
    assert answer.headers["Retry-After"]
    # Down after the browser left for it: the token exchange fails.
    browser = requests.Session()
    with provider(sso.url, sso.tmp / "dying.log") as dying:
        serve(sso, runtime, issuer=dying.issuer)
        callback = to_callback(browser, dataclasses.replace(sso, idp=dying), "alice")
    answer = browser.get(callback)
    assert answer.status_code == 503
    assert "Inloggningstjänsten svarar inte just nu" in answer.text
    assert count(runtime, select(func.count()).select_from(LoginFailure)) == 0


def test_signing_out_signs_out_at_the_provider_too(app: Sso, runtime: Runtime) -> None:
    browser = requests.Session()
    landed = sign_in(browser, app, "alice")
    out = browser.post(
        f"{app.url}/logout", data={"csrf_token": csrf_token(landed.text)}, allow_redirects=False
    )
    assert out.status_code == 303
    end = urlsplit(out.headers["Location"])
    assert out.headers["Location"].startswith(f"{app.idp.issuer}/session/end?")
    query = dict(parse_qsl(end.query))
    assert query["post_logout_redirect_uri"] == f"{app.url}/login"
    assert query["id_token_hint"].count(".") == 2
    confirm = browser.get(out.headers["Location"])  # the provider asks to confirm
    xsrf = parse(confirm.text).find("input", name="xsrf").attrs["value"]
    back = browser.post(
        f"{app.idp.issuer}/session/end/confirm", data={"xsrf": xsrf, "logout": "yes"}
    )
    assert back.url.startswith(f"{app.url}/login")
    assert "Du är utloggad." in back.text
    with runtime.transaction(write=False) as s:
        row = s.scalars(select(SignInSession)).one()
        assert row.end_reason == "signed_out"
    # Signed out at the provider: the next log-in asks who you are again.
    form = browser.get(f"{app.url}/login/sso")
    assert form.url.startswith(f"{app.idp.issuer}/interaction/")


def test_without_local_passwords_only_the_provider_signs_in(app: Sso, runtime: Runtime) -> None:
    browser = requests.Session()
    token = csrf_token(browser.get(f"{app.url}/login").text)  # from when passwords were on
    settings = runtime.settings
    login = dataclasses.replace(settings.login, passwords=False)
    app.server.app = create_app(
        dataclasses.replace(runtime, settings=settings.replace(login=login))
    )
    page = browser.get(f"{app.url}/login")
    assert "Logga in med Test-IdP" in page.text
    assert 'id="password"' not in page.text and "Glömt lösenord?" not in page.text
    refused = browser.post(
        f"{app.url}/login",
        data={
            "csrf_token": token,
            "email": "alice@example.se",
            "password": "alice-password",
        },
    )
    assert refused.status_code == 403
    assert "Inloggning med lösenord är avstängd" in refused.text
    assert count(runtime, select(func.count()).select_from(SignInSession)) == 0


def test_failed_callbacks_lock_the_address_like_failed_passwords(
    sso: Sso, runtime: Runtime
) -> None:
    settings = runtime.settings
    strict = settings.replace(login=dataclasses.replace(settings.login, max_failures_per_address=2))
    sso.server.app = create_app(dataclasses.replace(runtime, settings=strict))
    browser = requests.Session()
    for _ in range(2):
        assert browser.get(f"{sso.url}{CALLBACK}?code=x&state=y").status_code == 400
    failures(runtime, 2)
    callback = to_callback(browser, sso, "alice")  # even a good answer waits now
    locked = browser.get(callback)
    assert locked.status_code == 429
    assert "För många misslyckade inloggningsförsök" in locked.text
    assert locked.headers["Retry-After"]


def test_failed_callbacks_never_lock_single_sign_on_for_everyone(
    sso: Sso, runtime: Runtime
) -> None:
    """A failed callback names no account, so the per-account limit never applies: failures
    (stale links, people without an account) cannot lock out the whole region."""
    settings = runtime.settings
    strict = settings.replace(login=dataclasses.replace(settings.login, max_failures_per_account=1))
    sso.server.app = create_app(dataclasses.replace(runtime, settings=strict))
    browser = requests.Session()
    for _ in range(3):
        assert browser.get(f"{sso.url}{CALLBACK}?code=x&state=y").status_code == 400
    failures(runtime, 3)
    signed_in = browser.get(to_callback(browser, sso, "alice"))
    assert signed_in.status_code == 200 and "Välkommen" in signed_in.text
