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
    rows = page.doc.by_id("forsenade").find("tbody").find_all("tr")
    want = expected(session, late_world.authority("vgr-lead"))
    assert [int(row.attrs["id"].removeprefix("arende-")) for row in rows] == want
    assert all("Försenad" in row.text for row in rows)
    assert f"{len(want)} ärenden du kan se har passerat förfallodagen" in page.text


def test_nothing_overdue(world: World, runtime: Runtime):
    ui = Ui(runtime, world)
    ui.login("vgr-lead")
    page = ui.get("/forsenade")
    assert "Inget av det du kan se är försenat." in page.text
    assert not page.doc.has_id("forsenade")
