"""Signing in is throttled: too many failures for one account or from one address wait a while."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from kflow.accounts.models import LoginFailure
from kflow.accounts.throttle import Throttle, client_address
from kflow.config import ConfigError, LoginSettings, load_settings
from kflow.runtime import Runtime
from tests.support.ui_support import Page, Ui
from tests.support.world import PASSWORD, World

LIMITS = LoginSettings(
    max_failures_per_account=3, max_failures_per_address=5, window_seconds=600, lockout_seconds=300
)
THROTTLED = "För många misslyckade inloggningsförsök"


@pytest.fixture
def throttled(runtime: Runtime) -> Runtime:
    return Runtime(runtime.settings.replace(login=LIMITS), runtime.engine, runtime.sessions)


@pytest.fixture
def throttled_ui(throttled: Runtime, world: World) -> Ui:
    # A one-round hash keeps the many sign-ins quick; the throttle never looks at the hash.
    cheap = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    for who in ("local-lead", "vgr-lead", "npo-chair"):
        world.users[who].password_hash = cheap
    world.session.flush()
    return Ui(throttled, world)


def attempt(ui: Ui, email: str, password: str, address: str = "192.0.2.10") -> Page:
    response = ui.client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )
    return Page(response)


def failures(world: World) -> int:
    return world.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) or 0


def shift(world: World, seconds: int) -> None:
    """Move every recorded failure ``seconds`` back in time."""
    for row in world.session.scalars(sa.select(LoginFailure)):
        row.at -= dt.timedelta(seconds=seconds)
    world.session.flush()


def test_an_account_is_locked_after_repeated_failures(throttled_ui: Ui, world: World) -> None:
    for _ in range(LIMITS.max_failures_per_account):
        page = attempt(throttled_ui, "local-lead@test.se", "wrong-password")
        assert page.status == 200 and "Fel e-postadress eller lösenord." in page.text
    # Even the right password is refused now, before it is looked at, with a Swedish answer.
    locked = attempt(throttled_ui, "local-lead@test.se", PASSWORD)
    assert locked.status == 429
    assert 0 < int(locked.response.headers["Retry-After"]) <= LIMITS.lockout_seconds
    assert THROTTLED in locked.text and "vänta 5 minuter" in locked.text
    assert locked.doc.by_id("email").attrs["value"] == "local-lead@test.se"
    throttled_ui.get("/", expect=302)  # not signed in
    # Another account from another address is not affected.
    assert attempt(throttled_ui, "vgr-lead@test.se", PASSWORD, "198.51.100.7").status == 303


def test_the_answer_does_not_tell_whether_the_account_exists(
    throttled_ui: Ui, world: World
) -> None:
    pages = {}
    for email, address in (("local-lead@test.se", "192.0.2.1"), ("ingen@test.se", "192.0.2.2")):
        for _ in range(LIMITS.max_failures_per_account):
            assert attempt(throttled_ui, email, "wrong-password", address).status == 200
        pages[email] = attempt(throttled_ui, email, "wrong-password", address)
    real, made_up = pages["local-lead@test.se"], pages["ingen@test.se"]
    assert real.status == made_up.status == 429
    assert real.response.headers["Retry-After"] == made_up.response.headers["Retry-After"]
    assert real.doc.by_id("fel").text == made_up.doc.by_id("fel").text


def test_a_successful_sign_in_clears_the_accounts_failures(throttled_ui: Ui) -> None:
    for _ in range(2):
        for _ in range(LIMITS.max_failures_per_account - 1):
            assert attempt(throttled_ui, "npo-chair@test.se", "wrong-password").status == 200
        assert attempt(throttled_ui, "npo-chair@test.se", PASSWORD).status == 303
        throttled_ui.client.post("/logout")
    # Four failures in all, never three in a row without a success between: still allowed.
    assert attempt(throttled_ui, "npo-chair@test.se", PASSWORD).status == 303


def test_an_address_is_locked_after_failures_across_accounts(throttled_ui: Ui) -> None:
    address = "203.0.113.9"
    for i in range(LIMITS.max_failures_per_address):
        assert (
            attempt(throttled_ui, f"gissning{i}@test.se", "wrong-password", address).status == 200
        )
    assert attempt(throttled_ui, "vgr-lead@test.se", PASSWORD, address).status == 429
    assert attempt(throttled_ui, "vgr-lead@test.se", PASSWORD, "203.0.113.10").status == 303


def test_the_lock_passes_and_old_failures_are_pruned(throttled_ui: Ui, world: World) -> None:
    for _ in range(LIMITS.max_failures_per_account):
        attempt(throttled_ui, "local-lead@test.se", "wrong-password")
    assert attempt(throttled_ui, "local-lead@test.se", PASSWORD).status == 429
    assert failures(world) == 2 * LIMITS.max_failures_per_account  # refusals are not counted
    # Let the lockout pass (move the failures back in time).
    shift(world, LIMITS.lockout_seconds + 1)
    assert attempt(throttled_ui, "local-lead@test.se", PASSWORD).status == 303
    throttled_ui.client.post("/logout")
    # The success cleared the account's failures; the address's remain...
    assert failures(world) == LIMITS.max_failures_per_account
    # ...until they are older than window + lockout: then the next failure recorded prunes them.
    shift(world, LIMITS.window_seconds + LIMITS.lockout_seconds)
    attempt(throttled_ui, "vgr-lead@test.se", "wrong-password")
    assert failures(world) == 2


def test_failures_are_shared_by_every_app_instance(
    throttled_ui: Ui, throttled: Runtime, world: World
) -> None:
    """Two app instances (as two gunicorn workers would be) count the same failures, because
    the counts are rows in the database."""
    first, second = throttled_ui, Ui(throttled, world)
    for ui in (first, second, first):
        assert attempt(ui, "local-lead@test.se", "wrong-password").status == 200
    assert attempt(second, "local-lead@test.se", PASSWORD).status == 429


def test_nothing_readable_is_stored(throttled_ui: Ui, world: World) -> None:
    attempt(throttled_ui, "local-lead@test.se", "wrong-password", "192.0.2.44")
    keys = list(world.session.scalars(sa.select(LoginFailure.key)))
    assert len(keys) == 2
    for key in keys:
        assert len(key) == 64 and "local-lead" not in key and "192.0.2.44" not in key
    # Keyed with the secret key: another key gives other counters.
    ours = Throttle.of(LIMITS, "test", "local-lead@test.se", "192.0.2.44")
    theirs = Throttle.of(LIMITS, "another secret", "local-lead@test.se", "192.0.2.44")
    assert {ours.account_key, ours.address_key} == set(keys)
    assert not {theirs.account_key, theirs.address_key} & set(keys)


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("10.0.0.1", None, 0, "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1", 0, "10.0.0.1"),  # not trusted: ignored
        ("10.0.0.1", "198.51.100.1", 1, "198.51.100.1"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),  # a forged first hop
        ("10.0.0.2", "198.51.100.1, 10.0.0.1", 2, "198.51.100.1"),
        ("10.0.0.1", "198.51.100.1", 2, "10.0.0.1"),  # fewer hops than proxies
        (None, None, 0, "unknown"),
    ],
)
def test_client_address(
    remote: str | None, forwarded: str | None, proxies: int, expected: str
) -> None:
    assert client_address(remote, forwarded, proxies) == expected


def test_limits_are_settings() -> None:
    defaults = load_settings(environ={}, overrides={"environment": "development"}).login
    assert defaults == LoginSettings()
    assert (defaults.max_failures_per_account, defaults.lockout_seconds) == (5, 900)
    env = {"KFLOW_ENVIRONMENT": "development", "KFLOW_LOGIN__MAX_FAILURES_PER_ACCOUNT": "7"}
    assert load_settings(environ=env).login.max_failures_per_account == 7
    with pytest.raises(ConfigError, match=r"login\.window_seconds"):
        load_settings(
            environ={}, overrides={"environment": "development", "login": {"window_seconds": 0}}
        )
