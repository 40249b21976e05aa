"""Försenade (/forsenade) and GET /api/v1/overdue: every case the user may read whose due date
has passed, the most overdue first."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from kflow.cases.models import Case
from kflow.engine import visibility
from kflow.runtime import Runtime
from kflow.web.ui.labels import today
from tests.support.api_support import Api
from tests.support.ui_support import Ui
from tests.support.world import World


@pytest.fixture
def late_world(world: World, session):
    """Cases at every tier in two regions; every other one with a due date past it (a case
    without one, a closed one say, stays without)."""
    ks = world.ks_in("published")
    world.adaptation_in("implementing", ks)
    world.fire(world.adaptation(ks, "skane"), "start_assessment", "skane-coordinator")
    world.ks_in("consultation")
    day = today()
    ids = session.scalars(select(Case.id).where(Case.due.is_not(None)).order_by(Case.id)).all()
    for number, case_id in enumerate(ids):
        due = day - dt.timedelta(days=number % 5 + 1) if number % 2 else day
        session.execute(update(Case).where(Case.id == case_id).values(due=due))
    session.expire_all()
    return world


def listed(group) -> list:
    return [tr for tr in group.find_all("tr") if tr.attrs.get("id", "").startswith("arende-")]


def expected(session, authority) -> list[int]:
    rows = session.execute(
        select(Case.id)
        .where(visibility.visible(authority), Case.due < today())
        .order_by(Case.due, Case.id)
    )
    return [row[0] for row in rows]


@pytest.mark.parametrize("who", ["vgr-lead", "local-lead", "npo-chair", "skane-coordinator"])
def test_api_overdue_lists_what_the_caller_may_read(late_world, session, runtime: Runtime, who):
    want = expected(session, late_world.authority(who))
    assert want, "every reader here has something overdue"
    body = Api(runtime, late_world).get("/api/v1/overdue", who, limit=500)
    assert [item["id"] for item in body["items"]] == want
    assert body["total"] == len(want)
    page = Api(runtime, late_world).get("/api/v1/overdue", who, limit=2, offset=1)
    assert [item["id"] for item in page["items"]] == want[1:3]


def test_the_overdue_page(late_world, session, runtime: Runtime):
    ui = Ui(runtime, late_world)
    ui.login("vgr-lead")
    page = ui.get("/forsenade")
    nav = page.doc.find("nav", class_="main-nav")
    current = nav.find("a", aria_current="page")
    assert current.text == "Försenade" and current.attrs["href"] == "/forsenade"
    want = expected(session, late_world.authority("vgr-lead"))
    # Grouped by knowledge support (issue 17): each group a tbody headed by its title, the
    # groups in the order of their most overdue case, each group's cases most overdue first.
    groups = page.doc.by_id("forsenade").find_all("tbody")
    shown = [[int(tr.attrs["id"].removeprefix("arende-")) for tr in listed(g)] for g in groups]
    assert sorted(i for ids in shown for i in ids) == sorted(want)
    firsts = [want.index(ids[0]) for ids in shown]
    assert firsts == sorted(firsts)
    assert all([want.index(i) for i in ids] == sorted(want.index(i) for i in ids) for ids in shown)
    for group in groups:
        head = group.find("th", scope="rowgroup")
        assert (
            head.find("a").attrs["href"] == f"/arenden/{group.attrs['id'].removeprefix('grupp-')}"
        )
    rows = [tr for g in groups for tr in listed(g)]
    assert all("Försenad" in row.text for row in rows)
    assert f"{len(want)} ärenden du kan se har passerat förfallodagen" in page.text


def test_nothing_overdue(world: World, runtime: Runtime):
    ui = Ui(runtime, world)
    ui.login("vgr-lead")
    page = ui.get("/forsenade")
    assert "Inget av det du kan se är försenat." in page.text
    assert not page.doc.has_id("forsenade")


def shown_ids(page) -> set[int]:
    if not page.doc.has_id("forsenade"):
        return set()
    groups = page.doc.by_id("forsenade").find_all("tbody")
    return {int(tr.attrs["id"].removeprefix("arende-")) for g in groups for tr in listed(g)}


def test_responsible_people_are_named(late_world, runtime: Runtime):
    ui = Ui(runtime, late_world)
    ui.login("vgr-lead")
    page = ui.get("/forsenade")
    cells = [td.text for td in page.doc.by_id("forsenade").find_all("td", class_="responsible")]
    # World's users are named after their e-mail ("local-lead" is "Local Lead").
    assert "Local Lead, Local Member" in cells and "Npo Chair, Npo Lead" in cells
    assert not any("@" in text for text in cells)  # names, never addresses


def test_filters_scope_search_and_type(late_world, session, runtime: Runtime):
    ui = Ui(runtime, late_world)
    ui.login("vgr-lead")
    every = shown_ids(ui.get("/forsenade"))
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(every)))}
    vgr = late_world.units["vgr"].id
    in_vgr = {i for i, c in cases.items() if c.region_id == vgr}
    assert in_vgr and in_vgr != every
    assert shown_ids(ui.get("/forsenade", scope="region")) == in_vgr
    # The choice is remembered: the next visit without it keeps "Min region".
    again = ui.get("/forsenade")
    assert shown_ids(again) == in_vgr
    assert again.doc.by_id("filter-scope").find("option", selected="").attrs["value"] == "region"
    assert shown_ids(ui.get("/forsenade", scope="all")) == every
    adaptations = {i for i, c in cases.items() if c.type == "regional_adaptation"}
    assert shown_ids(ui.get("/forsenade", type="regional_adaptation")) == adaptations
    support = next(c for c in cases.values() if c.type == "knowledge_support")
    found = shown_ids(ui.get("/forsenade", q=support.title.split()[0].upper()))  # type: ignore[attr-defined]
    assert support.id in found
    word = support.title.split()[0].casefold()  # type: ignore[attr-defined]
    titles = {c.id: c.title for c in session.scalars(select(Case)) if getattr(c, "title", None)}
    assert all(word in titles[cases[i].knowledge_support_id or i].casefold() for i in found)
    nothing = ui.get("/forsenade", q="finns inte alls")
    assert "Inget försenat matchar filtren." in nothing.text


def test_min_enhet_shows_the_units_cases(late_world, runtime: Runtime):
    ui = Ui(runtime, late_world)
    ui.login("local-lead")
    mine = shown_ids(ui.get("/forsenade", scope="unit"))
    unit = late_world.units["vgr-psyk-1"].id
    session = late_world.session
    for case in session.scalars(select(Case).where(Case.id.in_(mine))):
        assert unit in (case.owner_id, case.assignee_id)


def test_overdue_csv(late_world, session, runtime: Runtime):
    import csv
    import io

    ui = Ui(runtime, late_world)
    ui.login("vgr-lead")
    page = ui.get("/forsenade", scope="all")
    link = page.doc.by_id("csv-export").attrs["href"]
    assert link.startswith("/forsenade.csv?")
    download = ui.get("/forsenade.csv", scope="all")
    assert download.response.mimetype == "text/csv"
    text = download.response.get_data().decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Kunskapsstöd", "Ärende", "Ärendetyp"] and rows[0][-1] == "Ansvariga"
    assert {int(row[1]) for row in rows[1:]} == shown_ids(page)
    assert not any("@" in row[-1] for row in rows[1:])
    only = ui.get("/forsenade.csv", scope="all", type="knowledge_support")
    body = only.response.get_data().decode("utf-8").removeprefix("\ufeff")
    assert all(
        r[2] == "Kunskapsstöd" for r in list(csv.reader(io.StringIO(body), delimiter=";"))[1:]
    )
