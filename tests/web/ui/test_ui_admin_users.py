"""Administration of one account: status and last log-in in the list, the user's page with its
history, name and HSA-id, deactivating (confirmed; out within one request, browser and API
token alike), activating, a new password, and region administrators kept to their people."""

from __future__ import annotations

from sqlalchemy import select

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import AccountEvent
from kflow.org.models import Membership, User
from kflow.runtime import Runtime
from tests.support.ui_support import Page, Ui
from tests.support.world import PASSWORD, World
from tests.web.ui.test_escaping import PAYLOAD, assert_inert


def history(page: Page) -> list[str]:
    return [tr.text for tr in page.doc.by_id("kontohistorik").find("tbody").find_all("tr")]


def row_of(page: Page, email: str) -> str:
    rows = page.doc.by_id("anvandare").find("tbody").find_all("tr")
    found = [tr.text for tr in rows if tr.text.startswith(f"{email} ")]
    assert len(found) == 1, found
    return found[0]


def user_path(world: World, who: str, action: str = "") -> str:
    return f"/admin/anvandare/{world.users[who].id}" + (f"/{action}" if action else "")


def as_other(runtime: Runtime, world: World, who: str) -> Ui:
    """A browser of its own, signed in as ``who``."""
    other = Ui(runtime, world)
    other.login(who)
    return other


def test_the_list_shows_status_and_last_log_in(runtime: Runtime, ui: Ui, world: World) -> None:
    as_other(runtime, world, "local-lead")
    ui.login("admin")
    page = ui.get("/admin/anvandare")
    headers = [th.text for th in page.doc.by_id("anvandare").find("thead").find_all("th")]
    assert headers == ["E-postadress", "Namn", "Status", "Senast inloggad", "Skapad"]
    assert "Aktiv" in row_of(page, "local-lead@test.se")
    assert "Aldrig" not in row_of(page, "local-lead@test.se")
    assert "Aldrig" in row_of(page, "nobody@test.se")
    link = page.doc.by_id("anvandare").find("a", href=user_path(world, "nobody"))
    assert link.text == "nobody@test.se"


def test_a_created_user_has_a_page_with_its_history(ui: Ui, world: World) -> None:
    ui.login("admin")
    created = ui.post(
        "/admin/anvandare",
        {"email": "ny@region.se", "name": "Ny Person", "password": "hemligt-lösen"},
        expect=303,
    )
    user = world.session.scalar(select(User).where(User.email == "ny@region.se"))
    assert user is not None
    assert created.response.headers["Location"].endswith(f"/admin/anvandare/{user.id}")
    ui.post(
        "/admin/behorigheter",
        {"email": "ny@region.se", "role": "member", "unit": "vgr-psyk-1"},
        expect=303,
    )
    page = ui.get(f"/admin/anvandare/{user.id}")
    assert page.doc.find("h1").text == "Ny Person"
    assert page.doc.by_id("status").text == "Aktiv"
    assert page.doc.by_id("senast-inloggad").text == "Aldrig"
    assert "Ledamot i Psykiatri Göteborg" in page.doc.by_id("konto").text
    rows = history(page)
    assert "Roll tilldelades Ledamot i Psykiatri Göteborg Admin" in rows[0]
    assert "Kontot skapades Ny Person (ny@region.se) Admin" in rows[1]
    membership = world.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership is not None
    ui.post(f"/admin/behorigheter/{membership.id}/ta-bort", {"bekraftat": "ja"}, expect=303)
    again = ui.get(f"/admin/anvandare/{user.id}")
    assert "Roll togs bort Ledamot i Psykiatri Göteborg Admin" in history(again)[0]


def test_name_and_hsa_id(ui: Ui, world: World) -> None:
    ui.login("admin")
    path = user_path(world, "nobody")
    ui.post(f"{path}/uppgifter", {"name": "Nils Nobody", "hsa_id": "SE2321000131-E42"}, expect=303)
    page = ui.get(path)
    assert "Uppgifterna för nobody@test.se är sparade." in page.text
    assert page.doc.find("h1").text == "Nils Nobody"
    rows = history(page)
    assert "HSA-id sattes Från – till SE2321000131-E42 Admin" in rows[0]
    assert "Namnet ändrades Från Nobody till Nils Nobody Admin" in rows[1]
    bad = ui.post(f"{path}/uppgifter", {"name": "Annat Namn", "hsa_id": "fel id"}, expect=422)
    assert "inget giltigt HSA-id" in bad.doc.by_id("fel").text
    assert bad.doc.by_id("account-hsa-id").attrs["value"] == "fel id"
    world.session.refresh(world.users["nobody"])
    assert world.users["nobody"].name == "Nils Nobody"  # the refused change left nothing
    ui.post(f"{path}/uppgifter", {"name": "", "hsa_id": ""}, expect=422)


def test_deactivation_is_confirmed_and_takes_effect_on_the_next_request(
    runtime: Runtime, ui: Ui, world: World
) -> None:
    person = as_other(runtime, world, "local-lead")
    _, token = api_tokens.create_token(world.session, world.users["local-lead"], "skript")
    world.session.flush()
    bearer = {"Authorization": f"Bearer {token}"}
    assert person.client.get("/api/v1/me", headers=bearer).status_code == 200
    person.get("/")
    ui.login("admin")
    path = user_path(world, "local-lead")
    refused = ui.post(f"{path}/inaktivera", {}, expect=422)
    box = refused.doc.by_id("bekrafta")
    assert box.attrs["aria-invalid"] == "true"
    assert "bekrafta-fel" in box.attrs["aria-describedby"]
    assert "Kryssa i rutan" in refused.doc.by_id("bekrafta-fel").text
    person.get("/")  # nothing happened
    ui.post(f"{path}/inaktivera", {"bekraftat": "ja"}, expect=303)
    # The very next request: the browser is sent to the log-in, the token is refused.
    out = person.get("/", expect=302)
    assert "/login" in out.response.headers["Location"]
    assert person.client.get("/api/v1/me", headers=bearer).status_code == 401
    login = {"email": "local-lead@test.se", "password": PASSWORD}
    assert person.post("/login", login).status == 200  # refused: no session
    page = ui.get(path)
    assert page.doc.by_id("status").text == "Inaktiverad"
    assert (
        "Kontot inaktiverades 1 inloggning avslutades, 1 API-nyckel återkallades"
        in history(page)[0]
    )
    assert "Inaktiverad" in row_of(ui.get("/admin/anvandare"), "local-lead@test.se")
    assert not page.doc.has_id("inaktivera")
    # Reactivated, the person signs in again; the old token stays revoked.
    ui.post(f"{path}/aktivera", {}, expect=303)
    assert person.post("/login", login).status == 303
    person.get("/")
    assert person.client.get("/api/v1/me", headers=bearer).status_code == 401
    assert "Kontot aktiverades" in history(ui.get(path))[0]
    ui.post(f"{path}/aktivera", {}, expect=422)  # active already


def test_an_admin_cannot_deactivate_themselves(ui: Ui, world: World) -> None:
    ui.login("admin")
    path = user_path(world, "admin")
    page = ui.get(path)
    assert page.doc.has_id("eget-konto")
    assert not page.doc.has_id("inaktivera") and not page.doc.has_id("nytt-losenord")
    refused = ui.post(f"{path}/inaktivera", {"bekraftat": "ja"}, expect=403)
    assert "ditt eget konto" in refused.text
    ui.post(f"{path}/losenord", {"password": "ett-nytt-lösen"}, expect=403)
    ui.get("/admin/anvandare")  # still signed in
    assert world.session.scalar(select(AccountEvent.id)) is None


def test_a_new_password_signs_the_person_out(runtime: Runtime, ui: Ui, world: World) -> None:
    person = as_other(runtime, world, "local-lead")
    ui.login("admin")
    path = user_path(world, "local-lead")
    short = ui.post(f"{path}/losenord", {"password": "kort"}, expect=422)
    assert "minst 8 tecken" in short.doc.by_id("fel").text
    assert not short.doc.by_id("account-password").attrs.get("value")
    ui.post(f"{path}/losenord", {"password": "ett-nytt-lösen"}, expect=303)
    person.get("/", expect=302)
    old = {"email": "local-lead@test.se", "password": PASSWORD}
    assert person.post("/login", old).status == 200
    new = {"email": "local-lead@test.se", "password": "ett-nytt-lösen"}
    assert person.post("/login", new).status == 303
    assert "Lösenordet sattes av en administratör" in history(ui.get(path))[0]


def test_a_region_admin_manages_only_their_people(ui: Ui, world: World) -> None:
    ui.login("vgr-admin")
    ui.get(user_path(world, "local-lead"))
    for outside in ("npo-chair", "skane-coordinator", "admin"):
        ui.get(user_path(world, outside), expect=403)
        for action, form in (
            ("uppgifter", {"name": "Kapad"}),
            ("inaktivera", {"bekraftat": "ja"}),
            ("aktivera", {}),
            ("losenord", {"password": "ett-nytt-lösen"}),
        ):
            ui.post(user_path(world, outside, action), form, expect=403)
    ui.get("/admin/anvandare/999999", expect=404)
    ui.post("/admin/anvandare/999999/inaktivera", {"bekraftat": "ja"}, expect=404)
    world.session.expire_all()
    assert all(u.is_active and u.name != "Kapad" for u in world.users.values())
    assert world.session.scalar(select(AccountEvent.id)) is None
    ui.post(user_path(world, "local-lead", "inaktivera"), {"bekraftat": "ja"}, expect=303)


def test_non_admins_cannot_reach_the_pages(ui: Ui, world: World) -> None:
    ui.login("vgr-coordinator")
    ui.get(user_path(world, "nobody"), expect=403)
    ui.post(user_path(world, "nobody", "inaktivera"), {"bekraftat": "ja"}, expect=403)


def test_markup_in_names_and_history_stays_text(ui: Ui, world: World) -> None:
    ui.login("admin")
    path = user_path(world, "nobody")
    ui.post(f"{path}/uppgifter", {"name": f"Namn {PAYLOAD}", "hsa_id": ""}, expect=303)
    ui.post(f"{path}/uppgifter", {"name": "Nobody", "hsa_id": PAYLOAD}, expect=422)
    for page in (ui.get(path), ui.get("/admin/anvandare")):
        assert_inert(page.html, page)
        assert f"Namn {PAYLOAD}" in page.text
    refused = ui.post(f"{path}/uppgifter", {"name": "Nobody", "hsa_id": PAYLOAD}, expect=422)
    assert_inert(refused.html, refused)
