"""Administration: units, users, memberships and API tokens; admins act only within their scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User
from tests.support.ui_support import Page, Ui
from tests.support.world import World

ADMIN_PAGES = (
    "/admin/",
    "/admin/enheter",
    "/admin/anvandare",
    "/admin/behorigheter",
    "/admin/api-nycklar",
)


def membership_exists(world: World, membership_id: int) -> bool:
    found = world.session.scalar(select(Membership.id).where(Membership.id == membership_id))
    return found is not None


def table_rows(page: Page, table_id: str) -> list[str]:
    return [tr.text for tr in page.doc.by_id(table_id).find("tbody").find_all("tr")]


@pytest.mark.parametrize("who", ["nobody", "local-lead", "npo-chair", "vgr-coordinator"])
def test_non_admins_are_refused(ui: Ui, world: World, who: str) -> None:
    ui.login(who)
    for path in ADMIN_PAGES:
        ui.get(path, expect=403)
    page = ui.post("/admin/anvandare", {"email": "x@test.se", "name": "X", "password": "p" * 10})
    assert page.status == 403
    assert world.session.scalar(select(User).where(User.email == "x@test.se")) is None
    nav = ui.get("/").doc.find("nav", **{"aria-label": "Huvudmeny"}).text
    assert "Administration" not in nav


def test_admin_pages_render(ui: Ui) -> None:
    ui.login("admin")
    for path in ADMIN_PAGES:
        page = ui.get(path)
        assert page.doc.find("h1").text
        assert "hela systemet" in page.text
    nav = ui.get("/").doc.find("nav", **{"aria-label": "Huvudmeny"}).text
    assert "Administration" in nav


def test_create_units(ui: Ui, world: World) -> None:
    ui.login("admin")
    ui.post(
        "/admin/enheter",
        {
            "kind": "local_unit",
            "parent": "vgr-rpo-psyk",
            "name": "Psykiatri Borås",
            "code": "vgr-psyk-boras",
        },
        expect=303,
    )
    unit = org_units.unit_by_code(world.session, "vgr-psyk-boras")
    assert (unit.kind, unit.parent_id) == ("local_unit", world.units["vgr-rpo-psyk"].id)
    assert org_units.is_below(world.session, unit.id, world.units["vgr"].id)
    page = ui.get("/admin/enheter")
    assert "Enheten ”Psykiatri Borås” (vgr-psyk-boras) är skapad" in page.text
    assert any("Psykiatri Borås" in row for row in table_rows(page, "enheter"))
    bad = ui.post(
        "/admin/enheter",
        {
            "kind": "regional_group",
            "parent": "npo-psykisk-halsa",
            "name": "Fel",
            "code": "fel-grupp",
        },
        expect=422,
    )
    assert "kan inte ligga under" in bad.doc.by_id("fel").text
    assert bad.doc.by_id("unit-name").attrs["value"] == "Fel"
    dup = ui.post(
        "/admin/enheter",
        {"kind": "local_unit", "parent": "vgr", "name": "Igen", "code": "vgr-psyk-boras"},
        expect=422,
    )
    assert "finns redan" in dup.text


def test_create_user_and_sign_in(ui: Ui, world: World) -> None:
    ui.login("admin")
    ui.post(
        "/admin/anvandare",
        {"email": "Ny.Person@Region.se", "name": "Ny Person", "password": "hemligt-lösen"},
        expect=303,
    )
    assert "ny.person@region.se" in " ".join(table_rows(ui.get("/admin/anvandare"), "anvandare"))
    short = ui.post(
        "/admin/anvandare", {"email": "b@test.se", "name": "B", "password": "kort"}, expect=422
    )
    assert "minst 8 tecken" in short.text
    assert not short.doc.by_id("user-password").attrs.get("value")  # never echoed
    ui.post("/logout", {})
    ui.post("/login", {"email": "ny.person@region.se", "password": "hemligt-lösen"}, expect=303)
    ui.get("/")


def test_grant_and_revoke(ui: Ui, world: World) -> None:
    ui.login("admin")
    ui.post(
        "/admin/behorigheter",
        {"email": "nobody@test.se", "role": "local_lead", "unit": "vgr-psyk-2"},
        expect=303,
    )
    nobody = world.users["nobody"]
    membership = world.session.scalar(select(Membership).where(Membership.user_id == nobody.id))
    assert membership is not None and membership.role == "local_lead"
    page = ui.get("/admin/behorigheter")
    assert "nobody@test.se är nu lokalt ansvarig i Psykiatri Skaraborg." in page.text
    # Removing a role asks for a confirmation (issue 17): without the box nothing happens,
    # and the error is at the row's box.
    refused = ui.post(f"/admin/behorigheter/{membership.id}/ta-bort", {}, expect=422)
    assert membership_exists(world, membership.id)
    box = refused.doc.by_id(f"bekrafta-{membership.id}")
    assert box.attrs["aria-invalid"] == "true"
    assert "Kryssa i rutan" in refused.doc.by_id(f"bekrafta-fel-{membership.id}").text
    ui.post(f"/admin/behorigheter/{membership.id}/ta-bort", {"bekraftat": "ja"}, expect=303)
    assert not membership_exists(world, membership.id)
    bad = ui.post(
        "/admin/behorigheter",
        {"email": "finns@inte.se", "role": "member", "unit": "vgr"},
        expect=422,
    )
    assert "finns@inte.se" in bad.doc.by_id("fel").text
    ui.post(
        "/admin/behorigheter",
        {"email": "nobody@test.se", "role": "king", "unit": "vgr"},
        expect=422,
    )


def test_cannot_remove_own_admin_role(ui: Ui, world: World) -> None:
    ui.login("admin")
    own = world.session.scalar(
        select(Membership).where(Membership.user_id == world.users["admin"].id)
    )
    assert own is not None
    page = ui.post(f"/admin/behorigheter/{own.id}/ta-bort", {}, expect=403)
    assert "din egen administratörsroll" in page.text
    assert membership_exists(world, own.id)


def test_tokens_are_shown_once_and_can_be_revoked(ui: Ui, world: World) -> None:
    ui.login("admin")
    page = ui.post(
        "/admin/api-nycklar", {"email": "npo-chair@test.se", "name": "Skript"}, expect=200
    )
    assert page.response.headers["Cache-Control"] == "no-store"
    plain = page.doc.by_id("token-value").attrs["value"]
    assert plain.startswith("kf_")
    assert api_tokens.user_for_token(world.session, plain) == world.users["npo-chair"]
    listing = ui.get("/admin/api-nycklar")
    assert plain not in listing.html
    assert plain[:10] in listing.html
    token = world.session.scalar(select(ApiToken).where(ApiToken.prefix == plain[:10]))
    assert token is not None
    ui.post(f"/admin/api-nycklar/{token.id}/aterkalla", {}, expect=303)
    assert api_tokens.user_for_token(world.session, plain) is None
    assert "Återkallad" in " ".join(table_rows(ui.get("/admin/api-nycklar"), "api-nycklar"))
    # The API refuses the revoked token.
    response = ui.client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401


def test_regional_admin_stays_in_their_region(ui: Ui, world: World) -> None:
    ui.login("vgr-admin")
    page = ui.get("/admin/enheter")
    assert "Västra Götalandsregionen med allt under" in page.text
    listed = " ".join(table_rows(page, "enheter"))
    assert "Psykiatri Göteborg" in listed and "Psykiatri Skåne" not in listed
    parents = [o.attrs["value"] for o in page.doc.by_id("unit-parent").find_all("option")]
    assert "vgr" in parents and "skane" not in parents and "npo-psykisk-halsa" not in parents
    kinds = [o.attrs["value"] for o in page.doc.by_id("unit-kind").find_all("option")]
    assert kinds == ["", "regional_group", "local_unit"]
    ui.post(
        "/admin/enheter",
        {"kind": "local_unit", "parent": "skane", "name": "Intrång", "code": "skane-intrang"},
        expect=403,
    )
    assert world.session.scalar(select(Unit).where(Unit.code == "skane-intrang")) is None
    ui.post(
        "/admin/enheter",
        {"kind": "nag", "parent": "npo-psykisk-halsa", "name": "NAG", "code": "nag-x"},
        expect=422,
    )
    ui.post(
        "/admin/enheter",
        {"kind": "regional_group", "parent": "vgr", "name": "RPO Hjärta", "code": "vgr-rpo-hjarta"},
        expect=303,
    )
    # Memberships: only within VGR.
    ui.post(
        "/admin/behorigheter",
        {"email": "nobody@test.se", "role": "member", "unit": "skane"},
        expect=403,
    )
    ui.post(
        "/admin/behorigheter",
        {"email": "nobody@test.se", "role": "member", "unit": "vgr-psyk-1"},
        expect=303,
    )
    rows = " ".join(table_rows(ui.get("/admin/behorigheter"), "behorigheter"))
    assert "local-lead@test.se" in rows and "skane-coordinator@test.se" not in rows
    skane = world.session.scalar(
        select(Membership).where(Membership.user_id == world.users["skane-coordinator"].id)
    )
    assert skane is not None
    ui.post(f"/admin/behorigheter/{skane.id}/ta-bort", {}, expect=403)
    assert membership_exists(world, skane.id)


def test_regional_admin_tokens_only_for_their_people(ui: Ui, world: World) -> None:
    ui.login("vgr-admin")
    ui.post("/admin/api-nycklar", {"email": "npo-chair@test.se", "name": "x"}, expect=403)
    page = ui.post("/admin/api-nycklar", {"email": "local-lead@test.se", "name": "x"}, expect=200)
    assert page.doc.by_id("token-value").attrs["value"].startswith("kf_")
    # A user who also holds a role outside the region is out of reach.
    org_users.grant(world.session, world.users["local-lead"], "member", world.units["skane"])
    world.session.flush()
    ui.post("/admin/api-nycklar", {"email": "local-lead@test.se", "name": "y"}, expect=403)
    users = " ".join(table_rows(ui.get("/admin/anvandare"), "anvandare"))
    assert "vgr-coordinator@test.se" in users
    assert "npo-chair@test.se" not in users and "local-lead@test.se" not in users
    _, plain = api_tokens.create_token(world.session, world.users["npo-chair"], "npo")
    world.session.flush()
    token = world.session.scalar(select(ApiToken).where(ApiToken.prefix == plain[:10]))
    assert token is not None
    ui.post(f"/admin/api-nycklar/{token.id}/aterkalla", {}, expect=403)
    assert plain[:10] not in ui.get("/admin/api-nycklar").html
