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


def unpublished(page: Page) -> set[str]:
    """The titles folded away below the heatmap: supports never published."""
    return {a.text for a in page.doc.by_id("opublicerade").find_all("a")}


def listed(page: Page) -> set[str]:
    return set(matrix_rows(page)) | unpublished(page)


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
    # A heatmap cell: the state's symbol and, for screen readers, its full label (issue 17).
    assert vgr.startswith("◕Införande pågår lokalt")
    assert "0/2 klara" in vgr
    assert cells[0] == "○Mottagen"
    head = page.doc.by_id("region-vgr")
    assert head.attrs["title"] == "Västra Götalandsregionen"
    assert head.attrs["data-mine"] == "ja"  # her own region stands out
    assert "data-mine" not in page.doc.by_id("region-skane").attrs
    table = page.doc.by_id("matris")
    assert table.find("caption").text
    assert all(th.attrs["scope"] == "col" for th in table.find("thead").find_all("th"))
    # Every cell carries its state class and a short label, never colour alone.
    tds = [td for td in table.find("tbody").find_all("td") if td.attrs["class"] != "goal-col"]
    assert all(td.attrs["class"].startswith("cell st-") and td.text for td in tds)
    assert all(td.find("span", class_="sym").text for td in tds)
    assert all(td.attrs["title"] for td in tds)  # the region and state in full
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
    assert "Inga publicerade kunskapsstöd matchar filtren." in page.text
    assert "Inga opublicerade kunskapsstöd matchar filtren." in page.text


def test_filters(ui: Ui, world: World) -> None:
    make_ks(world, "Vårdprogram A", kind="vardprogram")
    make_ks(world, "Rapport B", kind="rapport")
    make_ks(world, "Cancer C", owner="npo-cancersjukdomar", who="other-npo-chair")
    published = world.ks_in("published")
    ui.login("nobody")
    every = ui.get("/oversikt")
    assert listed(every) == {"Vårdprogram A", "Rapport B", "Cancer C", published.title}
    # The heatmap holds the published; the never published are folded away (closed).
    assert set(matrix_rows(every)) == {published.title}
    assert "open" not in every.doc.by_id("opublicerade").attrs
    assert listed(ui.get("/oversikt", kind="vardprogram")) == {"Vårdprogram A"}
    assert listed(ui.get("/oversikt", owner="npo-cancersjukdomar")) == {"Cancer C"}
    assert listed(ui.get("/oversikt", state="published")) == {published.title}
    both = ui.get("/oversikt", owner="npo-psykisk-halsa", kind="rapport")
    assert listed(both) == {"Rapport B"}
    assert "open" in both.doc.by_id("opublicerade").attrs  # nothing above it: shown open
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


def test_search(ui: Ui, world: World) -> None:
    make_ks(world, "Ångestsyndrom hos barn")
    make_ks(world, "Rapport om ÅNGEST")
    make_ks(world, "Något annat")
    ui.login("nobody")
    assert listed(ui.get("/oversikt", q="ångest")) == {
        "Ångestsyndrom hos barn",
        "Rapport om ÅNGEST",
    }
    assert listed(ui.get("/oversikt", q="ångest barn")) == {"Ångestsyndrom hos barn"}
    page = ui.get("/oversikt", q="annat")
    assert listed(page) == {"Något annat"}
    assert page.doc.by_id("filter-q").attrs["value"] == "annat"
    assert "q=annat" in page.doc.by_id("csv-export").attrs["href"]


def test_min_region_and_min_enhet_are_remembered(ui: Ui, world: World) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.implementation_in("implemented", ra)  # vgr-psyk-1 done, vgr-psyk-2 not yet
    ui.login("vgr-coordinator")
    assert len(columns(ui.get("/oversikt"))) == 22  # every region by default
    mine = ui.get("/oversikt", scope="region")
    assert columns(mine) == ["Kunskapsstöd", "Västra Götalandsregionen"]
    cell = matrix_rows(mine)[ks.title][0]
    assert "Införande" in cell and "1/2 klara" in cell  # wide cells: the short label shows
    # Remembered: the next visit without the parameter keeps it, until changed.
    again = ui.get("/oversikt")
    assert columns(again) == ["Kunskapsstöd", "Västra Götalandsregionen"]
    assert again.doc.by_id("filter-scope").find("option", selected="").attrs["value"] == "region"
    assert len(columns(ui.get("/oversikt", scope="all"))) == 22
    assert len(columns(ui.get("/oversikt"))) == 22
    # Min enhet: a local lead's region column, counting only her unit's implementations.
    ui.login("local-lead")
    unit = ui.get("/oversikt", scope="unit")
    assert columns(unit) == ["Kunskapsstöd", "Västra Götalandsregionen"]
    assert "1/1 klara" in matrix_rows(unit)[ks.title][0]
    # Kept with the user, not the browser session: signing in again keeps it.
    world.session.expire_all()
    assert world.users["local-lead"].overview_scope == "unit"
    ui.login("local-lead")
    assert columns(ui.get("/oversikt")) == ["Kunskapsstöd", "Västra Götalandsregionen"]


def test_a_user_without_a_region_sees_every_region(ui: Ui, world: World) -> None:
    world.ks_in("published")
    ui.login("npo-chair")
    page = ui.get("/oversikt", scope="region")
    assert len(columns(page)) == 22
    assert "Du hör inte till någon region" in page.doc.by_id("filter-scope-help").text
