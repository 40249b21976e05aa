"""List pages cost a fixed number of SQL statements however many rows they show (no N+1)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from kflow.cases.models import Case
from tests.support.ui_support import Ui
from tests.support.world import World


@contextlib.contextmanager
def counting(connection: sa.Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", before)


def cost(ui: Ui, connection: sa.Connection, path: str, **query: Any) -> int:
    with counting(connection) as statements:
        ui.get(path, **query)
    return len(statements)


def busy_knowledge_support(world: World) -> Case:
    """A published knowledge support handed off to two VGR units and one Skåne unit."""
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.fire(world.implementation(ra), "acknowledge", "local-lead")
    skane = world.adaptation(ks, "skane")
    world.fire(skane, "start_assessment", "skane-coordinator")
    world.fire(skane, "submit_for_decision", "skane-lead", comment="Klart")
    world.fire(skane, "adopt", "skane-chair", params={"decision_ref": "RS-1"})
    world.fire(skane, "hand_off", "skane-coordinator", params={"units": ["skane-psyk-1"]})
    return ks


def test_inbox_cost_does_not_grow(ui: Ui, world: World, connection: sa.Connection) -> None:
    busy_knowledge_support(world)
    # What waits: each unit's implementation (to start, to acknowledge), one per support.
    costs: dict[str, list[int]] = {"local-lead": [], "local2-lead": []}
    for _ in range(2):
        for who in costs:
            ui.login(who)
            costs[who].append(cost(ui, connection, "/"))
        busy_knowledge_support(world)
        busy_knowledge_support(world)
    ui.login("local2-lead")
    inbox = ui.get("/").doc.by_id("inkorg")
    rows = [tr for body in inbox.find_all("tbody") for tr in body.find_all("tr")]
    assert len(rows) == 5  # one implementation to acknowledge per support
    for who, (few, many) in costs.items():
        assert few == many, (who, few, many)
        assert few <= 13, (who, few)  # 13: the menu asks once whether to offer "Nytt kunskapsstöd"


def test_knowledge_support_page_cost_does_not_grow(
    ui: Ui, world: World, connection: sa.Connection
) -> None:
    quiet = world.ks_in("published")
    busy = busy_knowledge_support(world)
    world.fire(world.adaptation(busy, "halland"), "start_assessment", "admin", override=True)
    ui.login("npo-chair")
    few = cost(ui, connection, f"/arenden/{quiet.id}")
    many = cost(ui, connection, f"/arenden/{busy.id}")
    assert few == many
    # 23: the menu asks once whether to offer "Nytt kunskapsstöd"; besides the case, the
    # regions' table and the history, the page reads the actors' names and roles (two), what
    # each destructive trigger would cancel (one count each), its attachments, its comments
    # and its indicators' results: each a fixed number of statements, whatever the data.
    assert few <= 23, few
    page = ui.get(f"/arenden/{busy.id}")
    assert len(page.doc.by_id("regioner").find("tbody").find_all("tr")) == 21


def test_adaptation_page_cost_does_not_grow(
    ui: Ui, world: World, connection: sa.Connection
) -> None:
    ks = world.ks_in("published")
    small = world.adaptation_in("adapting", ks)
    world.fire(small, "hand_off", "vgr-coordinator", params={"units": ["vgr-psyk-1"]})
    big = world.adaptation_in("implementing")
    world.fire(world.implementation(big), "acknowledge", "local-lead")
    ui.login("vgr-lead")
    assert cost(ui, connection, f"/arenden/{small.id}") == cost(
        ui, connection, f"/arenden/{big.id}"
    )


def test_overview_cost_does_not_grow(ui: Ui, world: World, connection: sa.Connection) -> None:
    busy_knowledge_support(world)
    ui.login("vgr-coordinator")
    few = cost(ui, connection, "/oversikt")
    busy_knowledge_support(world)
    world.ks_in("review")
    many = cost(ui, connection, "/oversikt")
    assert few == many
    # 16: the menu asks once whether to offer "Nytt kunskapsstöd"; the published supports'
    # page (three reads), the unpublished ones' (two: they have no adaptations), the user's
    # regions for *Min region*, and the goal-attainment column (one statement).
    assert few <= 16, few
    csv_few = cost(ui, connection, "/oversikt.csv")
    busy_knowledge_support(world)
    assert cost(ui, connection, "/oversikt.csv") == csv_few
