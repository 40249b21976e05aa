"""Min inkorg: what waits for each role, grouped by urgency, search and filters, the local
team's one-click actions, and the start page that fits the role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from kflow.cases.models import Case
from kflow.org import users as org_users
from tests.support.ui_support import Page, Ui
from tests.support.world import World


def rows(page: Page) -> dict[int, str]:
    """Case id -> the row's text, for every row of the inbox table."""
    if not page.doc.has_id("inkorg"):
        return {}
    inbox = page.doc.by_id("inkorg")
    return {
        int(tr.attrs["id"].removeprefix("arende-")): tr.text
        for body in inbox.find_all("tbody")
        for tr in body.find_all("tr")
    }


def groups(page: Page) -> dict[str, list[int]]:
    """Group heading -> the case ids under it, in order."""
    found = {}
    for section in page.doc.by_id("inkorg").find_all("section"):
        heading = section.find("h2").text.split(" (")[0]
        found[heading] = [
            int(tr.attrs["id"].removeprefix("arende-"))
            for tr in section.find("tbody").find_all("tr")
        ]
    return found


def set_due(world: World, case: Case, due: dt.date) -> None:
    world.session.execute(update(Case).where(Case.id == case.id).values(due=due))
    world.session.flush()
    world.session.expire(case)


def test_local_lead_sees_their_units_tasks(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    mine, other = world.implementation(ra), world.implementation(ra, "vgr-psyk-2")
    ui.login("local-lead")
    page = ui.get("/")
    found = rows(page)
    assert set(found) == {mine.id}
    assert "Depression hos vuxna" in found[mine.id]
    assert "Psykiatri Göteborg" in found[mine.id]
    assert "Tilldelad" in found[mine.id]
    assert mine.due is not None and mine.due.isoformat() in found[mine.id]
    assert other.id not in found
    ui.login("local2-lead")
    assert set(rows(ui.get("/"))) == {other.id}


def test_coordinator_sees_their_regions_cases(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    ui.login("vgr-coordinator")
    found = rows(ui.get("/"))
    assert set(found) == {response.id}
    assert "Remissvar" in found[response.id]
    assert "Västra Götalandsregionen" in found[response.id]
    ui.login("skane-coordinator")
    skane = world.case_of("consultation_response", ks, "skane")
    assert set(rows(ui.get("/"))) == {skane.id}


def test_npo_chair_sees_their_npos_knowledge_supports(ui: Ui, world: World) -> None:
    ks = world.create_ks()
    ui.login("npo-chair")
    found = rows(ui.get("/"))
    assert set(found) == {ks.id}
    assert "Kunskapsstöd" in found[ks.id]
    ui.login("other-npo-chair")
    assert rows(ui.get("/")) == {}


def test_across_tiers_overdue_first(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    user = world.users["local-lead"]
    org_users.grant(world.session, user, "coordinator", world.units["vgr"])
    world.session.flush()
    second = world.ks_in("published")
    fresh = world.adaptation(second)
    set_due(world, li, world.today() + dt.timedelta(days=20))
    set_due(world, fresh, world.today() - dt.timedelta(days=3))
    ui.login("local-lead")
    page = ui.get("/")
    found = rows(page)
    assert next(iter(found)) == fresh.id
    assert "Försenad 3 dagar" in found[fresh.id]
    assert page.doc.by_id(f"arende-{fresh.id}").attrs["class"] == "is-overdue"
    assert "Försenad" not in found[li.id]
    assert "1 är försenat" in page.text
    assert {li.id, fresh.id} <= set(found)


def test_nobody_gets_an_empty_inbox(ui: Ui, world: World) -> None:
    world.adaptation_in("implementing")
    ui.login("nobody")
    page = ui.get("/")
    assert rows(page) == {}
    assert "Inget väntar på dig just nu." in page.text


def inline_button(page: Page, case_id: int) -> str | None:
    row = page.doc.by_id(f"arende-{case_id}")
    buttons = row.find_all("button")
    return buttons[0].text if buttons else None


def test_local_team_path_in_three_clicks(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("local-lead")
    for label, trigger, state in (
        ("Kvittera", "acknowledge", "acknowledged"),
        ("Starta införande", "start_implementation", "implementing"),
        ("Rapportera infört", "report_implemented", "implemented"),
    ):
        page = ui.get("/")
        assert inline_button(page, li.id) == f"{label} ärende #{li.id}"
        form = page.doc.by_id(f"arende-{li.id}").find("form")
        data = {
            i.attrs["name"]: i.attrs["value"]
            for i in form.find_all("input")
            if i.attrs.get("name") != "csrf_token"
        }
        assert data["trigger"] == trigger
        done = ui.post(form.attrs["action"], data, expect=303)
        assert done.response.headers["Location"] == "/"
        world.session.expire(li)
        assert li.state == state
        assert f"”{label}” är gjort för ärende #{li.id}" in ui.get("/").text
    # Implemented: the case waits for nothing now (issue 17), so it leaves the inbox; what is
    # left (follow-up, deviation) is done on the case page.
    assert li.id not in rows(ui.get("/"))


def test_member_may_only_acknowledge(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("local-member")
    assert inline_button(ui.get("/"), li.id) == f"Kvittera ärende #{li.id}"
    world.fire(li, "acknowledge", "local-member")
    assert li.id not in rows(ui.get("/"))


def test_inbox_pages(ui: Ui, world: World) -> None:
    ks = world.create_ks()
    ui.login("npo-chair")
    page = ui.get("/", offset="0")
    assert ks.id in rows(page)
    assert ui.get("/", expect=422, offset="-1").status == 422


def test_grouped_by_urgency_with_the_title_as_the_link(ui: Ui, world: World) -> None:
    ra, second = world.adaptation_in("implementing"), world.adaptation_in("implementing")
    late, soon = world.implementation(ra), world.implementation(second)
    later = world.implementation(ra, "vgr-psyk-2")
    today = world.today()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    set_due(world, late, today - dt.timedelta(days=1))
    set_due(world, soon, sunday)
    set_due(world, later, sunday + dt.timedelta(days=1))
    lead = world.users["local-lead"]
    org_users.grant(world.session, lead, "local_lead", world.units["vgr-psyk-2"])
    world.session.flush()
    ui.login("local-lead")
    page = ui.get("/")
    found = groups(page)
    assert list(found) == ["Försenat", "Förfaller denna vecka", "Senare"]
    assert (found["Försenat"], found["Förfaller denna vecka"]) == ([late.id], [soon.id])
    assert found["Senare"][0] == later.id  # then second's unit 2, due in 10 business days
    link = page.doc.by_id(f"arende-{late.id}").find("th").find("a")
    assert link.text == "Depression hos vuxna"
    assert link.attrs["href"] == f"/arenden/{late.id}"


def test_search_and_filters(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    ra = world.adaptation_in("received")
    ui.login("vgr-coordinator")
    assert set(rows(ui.get("/"))) == {response.id, ra.id}
    assert set(rows(ui.get("/", type="consultation_response"))) == {response.id}
    assert set(rows(ui.get("/", state="received"))) == {ra.id}
    assert set(rows(ui.get("/", knowledge_support=str(ks.id)))) == {response.id}
    assert set(rows(ui.get("/", q=f"#{ra.id}"))) == {ra.id}
    assert set(rows(ui.get("/", q="depression"))) == {response.id, ra.id}
    empty = ui.get("/", q="finns inte 100%_")
    assert rows(empty) == {} and "Inget som väntar på dig matchar sökningen." in empty.text
    assert set(rows(ui.get("/", knowledge_support="nonsense"))) == set()
    form = ui.get("/").doc.by_id("inkorg-filter")
    assert form.attrs["method"] == "get"
    options = form.find("select", name="knowledge_support").find_all("option")
    assert {o.attrs["value"] for o in options} == {"", str(ks.id), str(ra.knowledge_support_id)}


@pytest.mark.parametrize(
    ("who", "start"), [("admin", "/oversikt"), ("npo-viewer", "/oversikt"), ("local-lead", "/")]
)
def test_the_start_page_fits_the_role(ui: Ui, who: str, start: str) -> None:
    page = ui.login(who)
    assert page.response.headers["Location"] == start
    ui.get("/")  # the inbox stays one click away for everyone
