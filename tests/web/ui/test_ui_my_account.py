"""*Mitt konto*: the signed-in user's own account, tokens, calendar feed and password."""

from __future__ import annotations

from sqlalchemy import func, select, update

from kflow.accounts.events import AccountEventKind, history, record
from kflow.accounts.models import ApiToken, CalendarFeed, LoginFailure, SignInSession
from kflow.accounts.signin import password_tag
from kflow.accounts.tokens import hash_token
from tests.support.ui_support import Page, Ui
from tests.support.world import PASSWORD, World

NEW_PASSWORD = "ett-nytt-och-langt-losenord"


def change(ui: Ui, current: str, new: str, repeat: str | None = None, expect: int = 303) -> Page:
    form = {"current": current, "new": new, "repeat": new if repeat is None else repeat}
    return ui.post("/mitt-konto/losenord", form, expect=expect)


def failures(world: World) -> int:
    return world.session.scalar(select(func.count()).select_from(LoginFailure)) or 0


def test_the_page_shows_the_account(ui: Ui, world: World) -> None:
    user = world.users["local-lead"]
    user.hsa_id = "SE2321000131-E000000000001"
    record(world.session, user, AccountEventKind.RENAMED, "cli", {"old": user.name, "new": "X"})
    user.name = "Lokal Ledare"
    world.session.flush()
    ui.login("local-lead")
    page = ui.get("/mitt-konto")
    assert page.response.headers["Cache-Control"] == "no-store"
    link = page.doc.find("header").find("a", href="/mitt-konto")
    assert link.attrs["aria-current"] == "page"
    facts = page.doc.by_id("uppgifter").text
    assert "Namn Lokal Ledare" in facts
    assert "E-postadress local-lead@test.se" in facts
    assert "HSA-id SE2321000131-E000000000001" in facts
    assert "Senaste inloggning" in facts and "–" not in facts
    assert page.doc.by_id("roller").text == "Lokalt ansvarig i Psykiatri Göteborg"
    assert page.doc.by_id("mina-nycklar").text == "Du har inga API-nycklar."
    assert "Du är inloggad här och ingen annanstans." in page.doc.by_id("oppna-inloggningar").text
    assert "Namnet ändrades" in page.doc.by_id("kontohistorik").text
    assert page.buttons() == [
        "Skapa nyckel",
        "Skapa kalenderlänk",
        "Byt lösenord",
        "Logga ut överallt",
    ]
    ui.client.post("/logout")
    ui.get("/mitt-konto", expect=302)


def test_own_api_tokens(ui: Ui, world: World) -> None:
    ui.login("local-lead")
    made = ui.post("/mitt-konto/api-nycklar", {"name": "Rapportskript"}, expect=200)
    assert made.response.headers["Cache-Control"] == "no-store"
    plain = made.doc.by_id("token-value").attrs["value"]
    token = world.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    assert token is not None and token.user_id == world.users["local-lead"].id
    assert token.minted_by_id is None
    table = made.doc.by_id("mina-nycklar").text
    assert f"{plain[:10]}… Rapportskript" in table and "Aldrig" in table
    again = ui.get("/mitt-konto")
    assert not again.doc.has_id("token-value")  # shown once
    assert plain not in again.html
    ui.post(f"/mitt-konto/api-nycklar/{token.id}/aterkalla", {}, expect=303)
    world.session.refresh(token)
    assert token.revoked_at is not None
    assert "Återkallad" in ui.get("/mitt-konto").doc.by_id("mina-nycklar").text
    # Another user's token is not one's own to revoke.
    ui.login("local2-lead")
    theirs = ui.post("/mitt-konto/api-nycklar", {}, expect=200).doc.by_id("token-value")
    ui.login("local-lead")
    their_id = world.session.scalar(
        select(ApiToken.id).where(ApiToken.token_hash == hash_token(theirs.attrs["value"]))
    )
    ui.post(f"/mitt-konto/api-nycklar/{their_id}/aterkalla", {}, expect=404)


def test_the_calendar_feed_from_my_account(ui: Ui, world: World) -> None:
    ui.login("local-lead")
    made = ui.post("/inkorg/kalender", {"tillbaka": "konto"}, expect=200)
    assert made.response.headers["Cache-Control"] == "no-store"
    assert made.doc.find("main").find("a", href="/mitt-konto").text == "Tillbaka till Mitt konto"
    page = ui.get("/mitt-konto")
    assert "Du har en kalenderlänk sedan" in page.doc.by_id("kalender").text
    assert "Återkalla kalenderlänken" in page.buttons()
    revoked = ui.post("/inkorg/kalender/aterkalla", {"tillbaka": "konto"}, expect=303)
    assert revoked.response.headers["Location"] == "/mitt-konto#kalender"
    assert world.session.scalar(select(CalendarFeed.revoked_at)) is not None
    assert "Skapa kalenderlänk" in ui.get("/mitt-konto").buttons()


def test_changing_the_password(ui: Ui, world: World) -> None:
    elsewhere = Ui(ui.app.extensions["kflow"], world)
    elsewhere.login("local-lead")
    ui.login("local-lead")
    assert "Du är inloggad på 2 ställen" in ui.get("/mitt-konto").text

    wrong = change(ui, "fel-losenord", NEW_PASSWORD, expect=422)
    field = wrong.doc.by_id("losenord-current")
    assert field.attrs["aria-invalid"] == "true"
    assert field.attrs["aria-describedby"] == "losenord-current-error"
    assert "stämmer inte" in wrong.doc.by_id("losenord-current-error").text
    assert failures(world) == 2  # counted like a failed sign-in (account and address)
    mismatch = change(ui, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", expect=422)
    assert "inte likadana" in mismatch.doc.by_id("losenord-repeat-error").text
    short = change(ui, PASSWORD, "kort", expect=422)
    assert "minst 8 tecken" in short.doc.by_id("losenord-new-error").text
    assert elsewhere.get("/", expect=200)

    done = change(ui, PASSWORD, NEW_PASSWORD)
    assert done.response.headers["Location"] == "/mitt-konto"
    page = ui.get("/mitt-konto")  # still signed in here ...
    assert "Ditt lösenord är bytt. Du är utloggad på alla andra ställen." in page.text
    assert "Du är inloggad här och ingen annanstans." in page.text
    elsewhere.get("/", expect=302)  # ... and nowhere else
    assert failures(world) == 1  # a correct password clears the account's failures
    user = world.users["local-lead"]
    (event, *_) = history(world.session, user.id)
    assert (event.kind, event.actor_id) == (AccountEventKind.PASSWORD_CHANGED, user.id)
    assert event.detail == {"sessions_ended": 1}
    assert "Lösenordet byttes" in page.doc.by_id("kontohistorik").text
    ui.client.post("/logout")
    assert ui.post("/login", {"email": user.email, "password": PASSWORD}).status == 200
    assert ui.post("/login", {"email": user.email, "password": NEW_PASSWORD}).status == 303


def test_a_wrong_current_password_is_throttled(ui: Ui, world: World) -> None:
    ui.login("local-lead")
    for _ in range(world.settings.login.max_failures_per_account):
        change(ui, "fel-losenord", NEW_PASSWORD, expect=422)
    refused = change(ui, PASSWORD, NEW_PASSWORD, expect=429)
    assert int(refused.response.headers["Retry-After"]) > 0
    assert "För många" in refused.text
    ui.get("/mitt-konto", expect=200)  # still signed in, password unchanged


def test_no_password_form_without_a_password(ui: Ui, world: World) -> None:
    ui.login("local-lead")
    user = world.users["local-lead"]
    user.password_hash = None  # as a user who signs in through single sign-on
    world.session.execute(update(SignInSession).values(password_tag=password_tag(user)))
    world.session.flush()
    page = ui.get("/mitt-konto")
    assert "inget lösenord i kflow" in page.doc.by_id("losenord").text
    assert "Byt lösenord" not in page.buttons()
    change(ui, "", NEW_PASSWORD, expect=404)
