""" "Glömt lösenord?": a link by mail that sets a new password exactly once.

* Asking answers the same page whether or not the address has an account (or a password, or is
  active); only an account that signs in with a password gets a mail, through the outbox.
* The link carries a 256-bit secret; the database keeps its SHA-256. It works once, for
  ``login.reset_link_minutes``, and only the newest of a user's links works.
* Using it ends every session of the user; asking and using are in the account history.
* Asking is counted by the sign-in throttle, against the address asked for and the client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from kflow.accounts import passwords
from kflow.accounts.events import AccountEventKind, history
from kflow.accounts.models import LoginFailure, PasswordReset
from kflow.db import utcnow
from kflow.mailing import password_reset
from kflow.mailing.models import OutboxMail
from kflow.org.models import User
from kflow.runtime import Runtime
from tests.support.processes import committed_world
from tests.support.ui_support import Page, Ui
from tests.support.world import PASSWORD, World

NEW_PASSWORD = "ett-nytt-och-langt-losenord"
LINK = re.compile(r"http://127\.0\.0\.1:5000/aterstall-losenord/([A-Za-z0-9_-]{43})")


def ask(ui: Ui, email: str, expect: int = 200) -> Page:
    return ui.post("/glomt-losenord", {"email": email}, expect=expect)


def mails(world: World, to: str) -> list[OutboxMail]:
    world.session.expire_all()
    query = select(OutboxMail).where(OutboxMail.to_addr == to).order_by(OutboxMail.id)
    return list(world.session.scalars(query))


def link_in(mail: OutboxMail) -> str:
    """The reset link's path, as the mail's text gives it (rendered as the relay would)."""
    subject, text, html = mail.content()
    assert subject == "Nytt lösenord till kflow"
    found = LINK.search(text)
    assert found and found.group(0) in html
    return f"/aterstall-losenord/{found.group(1)}"


def reset(ui: Ui, path: str, new: str = NEW_PASSWORD, expect: int | None = 303) -> Page:
    secret = path.rsplit("/", 1)[1]
    return ui.post("/aterstall-losenord", {"secret": secret, "new": new, "repeat": new}, expect)


def signs_in(ui: Ui, password: str) -> bool:
    form = {"email": "local-lead@test.se", "password": password}
    return ui.post("/login", form).status == 303


def answer(page: Page, email: str) -> str:
    return page.text.replace(email, "<adress>")


@pytest.fixture
def lead(ui: Ui, world: World) -> User:
    ui.set_password("local-lead")
    return world.users["local-lead"]


def test_a_link_by_mail_sets_the_password_once(ui: Ui, world: World, lead: User) -> None:
    other = Ui(ui.app.extensions["kflow"], world)
    other.login("local-lead")  # signed in elsewhere: that session ends with the reset
    page = ask(ui, "Local-Lead@test.se ")
    assert "Om adressen Local-Lead@test.se finns i kflow har vi skickat en länk" in page.text
    (mail,) = mails(world, "local-lead@test.se")
    assert (mail.template, mail.status) == ("password_reset", "pending")
    path = link_in(mail)
    secret = path.rsplit("/", 1)[1]
    row = world.session.scalar(select(PasswordReset).where(PasswordReset.user_id == lead.id))
    assert row is not None and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert abs(row.expires_at - utcnow() - dt.timedelta(minutes=60)) < dt.timedelta(minutes=1)

    form = ui.get(path)
    assert form.response.headers["Referrer-Policy"] == "no-referrer"
    assert form.response.headers["Cache-Control"] == "no-store"
    assert form.doc.find("input", name="secret").attrs["value"] == secret
    done = reset(ui, path)
    assert done.response.headers["Location"] == "/login"
    assert other.get("/", expect=302)
    assert not signs_in(ui, PASSWORD)
    assert signs_in(ui, NEW_PASSWORD)

    # Exactly once: the link is used up, and says so.
    gone = ui.get(path, expect=410)
    assert "Länken har redan använts eller gått ut" in gone.text
    assert gone.response.headers["Referrer-Policy"] == "no-referrer"
    assert "Länken har redan använts" in reset(ui, path, "ett-tredje-losenord", 410).text
    assert signs_in(ui, NEW_PASSWORD)

    kinds = [(e.kind, e.actor, e.detail) for e in history(world.session, lead.id)]
    assert kinds[0] == (AccountEventKind.PASSWORD_RESET, lead.email, {"sessions_ended": 1})
    assert kinds[1][0] == AccountEventKind.PASSWORD_RESET_REQUESTED
    assert all(secret not in str(detail) for _, _, detail in kinds)


def test_no_answer_tells_whether_an_account_exists(ui: Ui, world: World, lead: User) -> None:
    world.users["local-member"].is_active = False
    ui.set_password("local-member")
    world.session.flush()
    empty = ask(ui, " ", expect=422)
    assert empty.doc.by_id("email").attrs["aria-invalid"] == "true"
    assert empty.doc.by_id("email-error").text == "Fel: Skriv din e-postadress."
    known = answer(ask(ui, "local-lead@test.se"), "local-lead@test.se")
    for email in ("finns-inte@test.se", "nobody@test.se", "local-member@test.se"):
        # No such account; an account without a password (single sign-on); a deactivated one.
        page = ask(ui, email)
        assert answer(page, email) == known
        assert mails(world, email) == []
    assert len(mails(world, "local-lead@test.se")) == 1
    assert world.session.scalar(select(func.count()).select_from(PasswordReset)) == 1


def test_only_the_newest_link_works_and_links_expire(ui: Ui, world: World, lead: User) -> None:
    ask(ui, "local-lead@test.se")
    ask(ui, "local-lead@test.se")
    first, second = (link_in(mail) for mail in mails(world, "local-lead@test.se"))
    assert first != second
    ui.get(first, expect=410)
    ui.get(second, expect=200)
    for row in world.session.scalars(select(PasswordReset)):
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    world.session.flush()
    ui.get(second, expect=410)
    reset(ui, second, expect=410)
    assert signs_in(ui, PASSWORD)
    ui.get("/aterstall-losenord/inte-en-riktig-lank", expect=410)


def test_a_bad_new_password_keeps_the_link(ui: Ui, world: World, lead: User) -> None:
    ask(ui, "local-lead@test.se")
    path = link_in(mails(world, "local-lead@test.se")[0])
    short = reset(ui, path, "kort", expect=422)
    field = short.doc.by_id("new")
    assert field.attrs["aria-invalid"] == "true"
    assert "minst 8 tecken" in short.doc.by_id("new-error").text
    secret = path.rsplit("/", 1)[1]
    data = {"secret": secret, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD + "x"}
    mismatch = ui.post("/aterstall-losenord", data, expect=422)
    assert "inte likadana" in mismatch.doc.by_id("repeat-error").text
    reset(ui, path)
    assert signs_in(ui, NEW_PASSWORD)


def test_of_two_uses_at_once_at_most_one_wins(
    ui: Ui, world: World, lead: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, now = world.session, utcnow()
    secret = password_reset.send_link(session, world.settings, lead, now)
    stale = passwords.link(session, secret, now)  # both uses found the link unused ...
    passwords.redeem(session, secret, NEW_PASSWORD, NEW_PASSWORD, now)  # ... one won
    monkeypatch.setattr(passwords, "link", lambda *_: stale)
    with pytest.raises(passwords.LinkGone):
        passwords.redeem(session, secret, "ett-annat-losenord", "ett-annat-losenord", now)
    session.refresh(lead)
    assert passwords.current_is(lead, NEW_PASSWORD)


def test_asking_is_throttled_but_never_locks_the_log_in(ui: Ui, world: World, lead: User) -> None:
    limit = world.settings.login.max_failures_per_account
    for _ in range(limit):
        ask(ui, "local-lead@test.se")
    refused = ask(ui, "local-lead@test.se", expect=429)
    assert int(refused.response.headers["Retry-After"]) > 0
    assert "För många" in refused.text
    assert len(mails(world, "local-lead@test.se")) == limit
    # Asking is counted on its own: the person can still sign in (a link asked for a few
    # times, or by someone else, locks nobody out).
    form = {"email": "local-lead@test.se", "password": PASSWORD}
    assert ui.post("/login", form).status == 303
    # An unknown address is counted the same way.
    for _ in range(limit):
        ask(ui, "finns-inte@test.se")
    ask(ui, "finns-inte@test.se", expect=429)
    assert world.session.scalar(select(func.count()).select_from(LoginFailure)) == 4 * limit


def test_without_local_passwords_there_is_no_reset(runtime: Runtime, world: World) -> None:
    login = dataclasses.replace(runtime.settings.login, passwords=False)
    ui = Ui(Runtime(runtime.settings.replace(login=login), runtime.engine, runtime.sessions), world)
    ui.get("/glomt-losenord", expect=404)
    ui.post("/glomt-losenord", {"email": "local-lead@test.se"}, expect=404)
    ui.get("/aterstall-losenord/x", expect=404)
    ui.post("/aterstall-losenord", {"secret": "x"}, expect=404)


def test_two_uses_racing_in_their_own_transactions(
    committed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both find the link unused, then both try to use it: one sets its password, the other
    is told the link is gone (on SQLite the second waits for the write lock instead)."""
    rt = committed_runtime
    with committed_world(rt) as world:
        user = world.users["local-lead"]
        secret = password_reset.send_link(world.session, rt.settings, user, utcnow())
    found = passwords.link
    both_found = threading.Barrier(2, timeout=2)

    def link_then_wait(*args: Any) -> PasswordReset:
        row = found(*args)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_found.wait()
        return row

    monkeypatch.setattr(passwords, "link", link_then_wait)
    outcomes: dict[str, str] = {}

    def use(password: str) -> None:
        try:
            with rt.transaction() as session:
                passwords.redeem(session, secret, password, password, utcnow())
            outcomes[password] = "set"
        except passwords.LinkGone:
            outcomes[password] = "gone"

    racers = [threading.Thread(target=use, args=(f"losenord-{n}-racet",)) for n in (1, 2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    assert sorted(outcomes.values()) == ["gone", "set"], outcomes
    if rt.engine.dialect.name == "postgresql":
        assert not both_found.broken  # both had found the link unused: a real race
    (winner,) = [password for password, outcome in outcomes.items() if outcome == "set"]
    with rt.transaction(write=False) as session:
        stored = session.scalar(select(User).where(User.email == "local-lead@test.se"))
        assert stored is not None and passwords.current_is(stored, winner)
        kinds = [e.kind for e in history(session, stored.id)]
        assert kinds.count(AccountEventKind.PASSWORD_RESET) == 1
