"""Översikt: the knowledge supports × regions matrix, its filters, legend and CSV export."""

from __future__ import annotations

import csv
import io

from kflow.engine.create import create_knowledge_support
from tests.support.ui_support import Page, Ui
from tests.support.world import World


def matrix_rows(page: Page) -> dict[str, list[str]]:
    """Knowledge support title -> the text of each of its 21 cells."""
    if not page.doc.has_id("matris"):
        return {}
    out = {}
    for tr in page.doc.by_id("matris").find("tbody").find_all("tr"):
        out[tr.find("th").find("a").text] = [
            td.text for td in tr.find_all("td") if td.attrs.get("class") != "goal-col"
        ]
    return out


def columns(page: Page) -> list[str]:
    heads = page.doc.by_id("matris").find("thead").find_all("th")
    return [th.text for th in heads if th.attrs.get("class") != "goal-col"]


def make_ks(
    world: World,
    title: str,
    kind: str = "kliniskt_kunskapsstod",
    owner: str = "npo-psykisk-halsa",
    who: str = "npo-chair",
) -> None:
    create_knowledge_support(
        world.session, world.authority(who), title=title, kind=kind, owner=owner
    )
    world.session.flush()


def test_matrix_shows_states_with_labels_and_shares(ui: Ui, world: World) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.fire(world.implementation(ra), "acknowledge", "local-lead")
    ui.login("vgr-coordinator")
    page = ui.get("/oversikt")
    heads = columns(page)
    assert heads[0] == "Kunskapsstöd" and len(heads) == 22
    assert heads[1] == "Blekinge" and heads[-2:] == ["Örebro län", "Östergötland"]
    assert "Västra Götalandsregionen" in heads
    cells = matrix_rows(page)["Depression hos vuxna"]
    vgr = cells[heads.index("Västra Götalandsregionen") - 1]
    assert vgr.startswith("Införande")
    assert "0/2 klara" in vgr
    assert cells[0] == "Mottagen"
    table = page.doc.by_id("matris")
    assert table.find("caption").text
    assert all(th.attrs["scope"] == "col" for th in table.find("thead").find_all("th"))
    # Every cell carries its state class and a short label, never colour alone.
    tds = [td for td in table.find("tbody").find_all("td") if td.attrs["class"] != "goal-col"]
    assert all(td.attrs["class"].startswith("cell st-") and td.text for td in tds)
    # The coordinator may open VGR's adaptation, not the other regions'.
    links = table.find("tbody").find_all("a")
    assert [a.attrs["href"] for a in links] == [f"/arenden/{ks.id}", f"/arenden/{ra.id}"]
    wrapper = page.doc.find("div", class_="matrix-scroll")
    assert wrapper.attrs["tabindex"] == "0"  # keyboard users can scroll it


def test_legend_names_every_state(ui: Ui, world: World) -> None:
    ui.login("nobody")
    page = ui.get("/oversikt")
    legend = page.doc.find("ul", class_="legend").text
    for label in (
        "Mottagen",
        "Prioritering och konsekvensanalys",
        "Beslut: införs ej",
        "Ej mottagen",
    ):
        assert label in legend
    assert "Inga kunskapsstöd matchar filtren." in page.text


def test_filters(ui: Ui, world: World) -> None:
    make_ks(world, "Vårdprogram A", kind="vardprogram")
    make_ks(world, "Rapport B", kind="rapport")
    make_ks(world, "Cancer C", owner="npo-cancersjukdomar", who="other-npo-chair")
    published = world.ks_in("published")
    ui.login("nobody")
    assert set(matrix_rows(ui.get("/oversikt"))) == {
        "Vårdprogram A",
        "Rapport B",
        "Cancer C",
        published.title,
    }
    assert set(matrix_rows(ui.get("/oversikt", kind="vardprogram"))) == {"Vårdprogram A"}
    assert set(matrix_rows(ui.get("/oversikt", owner="npo-cancersjukdomar"))) == {"Cancer C"}
    assert set(matrix_rows(ui.get("/oversikt", state="published"))) == {published.title}
    both = ui.get("/oversikt", owner="npo-psykisk-halsa", kind="rapport")
    assert set(matrix_rows(both)) == {"Rapport B"}
    form = both.doc.by_id("filter")
    assert form.attrs["method"] == "get"
    assert form.by_id("filter-kind").find("option", selected="").attrs["value"] == "rapport"
    assert form.find("label", for_="filter-owner").text
    export = both.doc.by_id("csv-export").attrs["href"]
    assert export.startswith("/oversikt.csv?")
    assert "owner=npo-psykisk-halsa" in export and "kind=rapport" in export
    bad = ui.get("/oversikt", expect=422, owner="finns-inte")
    assert "finns-inte" in bad.text


def read_csv(page: Page) -> list[list[str]]:
    raw = page.response.get_data()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_csv_export(ui: Ui, world: World) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.implementation_in("implemented", ra)  # vgr-psyk-1 done, vgr-psyk-2 not yet
    make_ks(world, '=HYPERLINK("http://evil")', kind="rapport")
    ui.login("vgr-viewer")
    page = ui.get("/oversikt.csv")
    assert page.response.mimetype == "text/csv"
    assert "charset=utf-8" in page.response.headers["Content-Type"]
    assert "oversikt.csv" in page.response.headers["Content-Disposition"]
    assert b"\r\n" in page.response.get_data()
    rows = read_csv(page)
    header = rows[0]
    assert header[:5] == ["Ärende", "Kunskapsstöd", "Typ", "Ägare", "Läge"]
    assert len(header) == 5 + 2 * 21
    assert "Region Skåne: läge" in header
    by_title = {row[1]: row for row in rows[1:]}
    assert set(by_title) == {ks.title, '\'=HYPERLINK("http://evil")'}
    row = by_title[ks.title]
    assert row[:5] == [str(ks.id), ks.title, "Kliniskt kunskapsstöd", "Psykisk hälsa", "Publicerad"]
    vgr = header.index("Västra Götalandsregionen: läge")
    assert row[vgr] == "Införande pågår lokalt"
    assert row[vgr + 1] == "50"  # one of two units done
    skane = header.index("Region Skåne: läge")
    assert (row[skane], row[skane + 1]) == ("Mottagen", "")
    filtered = read_csv(ui.get("/oversikt.csv", kind="rapport"))
    assert [r[1] for r in filtered[1:]] == ['\'=HYPERLINK("http://evil")']
