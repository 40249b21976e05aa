"""Bulk Kvittera from Min inkorg: tick several, confirm once, all acknowledged or none."""

from __future__ import annotations

from sqlalchemy import func, select, update

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.org import users as org_users
from tests.support.ui_support import Ui
from tests.support.world import World


def two_to_acknowledge(world: World) -> tuple[Case, Case]:
    ra = world.adaptation_in("implementing")
    lead = world.users["local-lead"]
    org_users.grant(world.session, lead, "local_lead", world.units["vgr-psyk-2"])
    world.session.flush()
    return world.implementation(ra), world.implementation(ra, "vgr-psyk-2")


def ticked(ui: Ui) -> list[str]:
    inbox = ui.get("/")
    boxes = inbox.doc.by_id("inkorg").find_all("input", name="arende")
    assert all(box.attrs["form"] == "kvittera" for box in boxes)
    return [box.attrs["value"] for box in boxes]


def events(world: World) -> int:
    return world.session.scalar(select(func.count()).select_from(CaseEvent)) or 0


def test_acknowledge_several_with_one_confirmation(ui: Ui, world: World) -> None:
    first, second = two_to_acknowledge(world)
    ui.login("local-lead")
    chosen = ticked(ui)
    assert chosen == sorted(chosen, key=lambda i: [first.id, second.id].index(int(i)))
    confirm = ui.post("/inkorg/kvittera", {"arende": chosen}, expect=200)
    assert "Kvittera 2 ärenden?" in confirm.text
    listed = confirm.doc.by_id("att-kvittera").find_all("li")
    assert {li.attrs["id"] for li in listed} == {f"arende-{first.id}", f"arende-{second.id}"}
    world.session.expire_all()
    assert {first.state, second.state} == {"assigned"}  # the confirmation page changed nothing
    form = confirm.doc.by_id("bekrafta-kvittering")
    data: dict[str, list[str]] = {}
    for field in form.find_all("input"):
        data.setdefault(field.attrs["name"], []).append(field.attrs["value"])
    done = ui.post("/inkorg/kvittera/bekrafta", data, expect=303)
    assert done.response.headers["Location"] == "/"
    world.session.expire_all()
    assert (first.state, second.state) == ("acknowledged", "acknowledged")
    assert "2 ärenden kvitterades." in ui.get("/").text


def test_a_refused_one_writes_nothing(ui: Ui, world: World) -> None:
    first, second = two_to_acknowledge(world)
    ui.login("local-lead")
    confirm = ui.post("/inkorg/kvittera", {"arende": ticked(ui)}, expect=200)
    data: dict[str, list[str]] = {}
    for field in confirm.doc.by_id("bekrafta-kvittering").find_all("input"):
        data.setdefault(field.attrs["name"], []).append(field.attrs["value"])
    # Someone acknowledges the second meanwhile: its version on the page is stale.
    world.fire(second, "acknowledge", "local2-lead")
    before = events(world)
    refused = ui.post("/inkorg/kvittera/bekrafta", data, expect=409)
    assert f"Ärende #{second.id} kunde inte kvitteras" in refused.text
    assert "Inget av ärendena kvitterades." in refused.text
    world.session.expire_all()
    assert first.state == "assigned"
    assert events(world) == before


def test_only_ones_own_may_be_acknowledged(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    theirs = world.implementation(ra, "vgr-psyk-2")
    ui.login("local-lead")
    page = ui.post("/inkorg/kvittera/bekrafta", {"arende": [str(theirs.id)]})
    assert page.status in (403, 404)
    world.session.expire_all()
    assert theirs.state == "assigned"
    ui.post("/inkorg/kvittera", {"arende": ["x"]}, expect=422)
    empty = ui.post("/inkorg/kvittera", {}, expect=303)
    assert empty.response.headers["Location"] == "/"


def test_no_bulk_form_without_something_to_acknowledge(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    world.fire(li, "acknowledge", "local-lead")
    world.session.execute(update(Case).where(Case.id == li.id).values(due=None))
    ui.login("local-lead")
    page = ui.get("/")
    assert li.id and not page.doc.has_id("kvittera")
