"""History downloads (/arenden/<id>/historik.csv): a case's whole history, and for a knowledge
support that of its whole chain, filtered by what the user may read."""

from __future__ import annotations

import csv
import io

from kflow.queries import history as case_history
from kflow.states import MACHINES
from tests.support.ui_support import Page, Ui
from tests.support.world import World

HEADER = [
    "Tid",
    "Ärende",
    "Ärendetyp",
    "Enhet",
    "Händelse",
    "Från läge",
    "Till läge",
    "Utförd av",
    "Roll",
    "Undantag av administratör",
    "Uppgifter",
    "Kommentar",
    "Utförarens enhet",
]


def read_csv(page: Page) -> list[list[str]]:
    assert page.response.mimetype == "text/csv"
    raw = page.response.get_data()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == HEADER
    return rows[1:]


def test_knowledge_support_download_spans_the_chain_as_each_user_may_read_it(
    ui: Ui, world: World
) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation_in("acknowledged", ra)
    skane = world.adaptation(ks, "skane")

    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    link = page.doc.by_id("historik-csv")
    assert link.attrs["href"] == f"/arenden/{ks.id}/historik.csv"
    assert "hela kedjan" in link.text
    download = ui.get(link.attrs["href"])
    assert f'filename="historik-{ks.id}.csv"' in download.response.headers["Content-Disposition"]
    rows = read_csv(download)
    by_case = {int(row[1]) for row in rows}
    assert {ks.id, ra.id, li.id, skane.id} <= by_case  # the owner NPO follows every tier
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)  # oldest first
    first = rows[0]
    assert first[1:8] == [
        str(ks.id),
        "Kunskapsstöd",
        world.units["npo-psykisk-halsa"].name,
        "Skapat",
        "",
        ks_state_label("need_identified"),
        first[7],
    ]
    acknowledged = [row for row in rows if int(row[1]) == li.id]
    assert [row[4] for row in acknowledged][-1] == "Kvittera"
    assert acknowledged[-1][2] == "Lokalt införande"
    assert acknowledged[-1][3] == world.units["vgr-psyk-1"].name
    handed = next(row for row in rows if int(row[1]) == ra.id and row[4] == label("hand_off"))
    assert world.units["vgr-psyk-1"].name in handed[10]  # unit codes shown by name
    # The download holds exactly what the API's chain history holds for the same user.
    authority = world.authority("npo-chair")
    assert len(rows) == case_history.chain_history(world.session, authority, ks, limit=500).total

    ui.login("local-lead")
    local = read_csv(ui.get(f"/arenden/{ks.id}/historik.csv"))
    seen = {int(row[1]) for row in local}
    assert {ks.id, ra.id, li.id} <= seen
    assert skane.id not in seen  # another region's adaptation stays hidden
    assert len(local) < len(rows)


def ks_state_label(state: str) -> str:
    return MACHINES["knowledge_support"].state_label(state)


def label(trigger: str) -> str:
    return MACHINES["regional_adaptation"].triggers[trigger].label


def test_a_case_download_holds_its_own_history_only(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{ra.id}")
    assert page.doc.by_id("historik-csv").text.strip() == "Ladda ner hela historiken (CSV)"
    rows = read_csv(ui.get(f"/arenden/{ra.id}/historik.csv"))
    assert {int(row[1]) for row in rows} == {ra.id}
    assert [row[4] for row in rows] == [
        "Skapat",
        *(label(t) for t, _, _ in world.ADAPTATION_PATH.values()),
    ]
    assert (
        next(row for row in rows if row[4] == label("submit_for_decision"))[11]
        == "Gap analysis done"
    )
    # People, not addresses (issue 17): the name, the role and the unit it is held in.
    decided = next(row for row in rows if row[4] == label("submit_for_decision"))
    assert (decided[7], decided[8], decided[12]) == (
        "Vgr Lead",
        "Processledare",
        "Västra Götalandsregionen",
    )
    assert not any("@" in row[7] for row in rows)


def test_cells_excel_would_run_are_neutralised(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("assessing")
    world.fire(ra, "submit_for_decision", "vgr-lead", comment='=HYPERLINK("http://evil")')
    ui.login("vgr-lead")
    rows = read_csv(ui.get(f"/arenden/{ra.id}/historik.csv"))
    assert rows[-1][11] == '\'=HYPERLINK("http://evil")'


def test_an_unreadable_case_is_not_found(ui: Ui, world: World) -> None:
    ra = world.adaptation(world.ks_in("published"), "skane")
    ui.login("local-lead")
    ui.get(f"/arenden/{ra.id}/historik.csv", expect=404)
    ui.get("/arenden/999999/historik.csv", expect=404)
