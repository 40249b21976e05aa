"""The remissammanställning (issue 17 item 3) and destructive triggers (item 4): the summary
page and its downloads, who may read them, the warning before closing a consultation while
regions are still at work, and confirmations that work without JavaScript."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import func, select

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, ConsultationResponse
from kflow.states import MACHINES
from tests.support.ui_support import Ui
from tests.support.world import World


def response(world: World, ks: Case, region: str) -> Case:
    found = world.session.scalar(
        select(ConsultationResponse).where(
            ConsultationResponse.knowledge_support_id == ks.id,
            ConsultationResponse.region_id == world.units[region].id,
        )
    )
    assert found is not None
    return found


def answered_consultation(world: World) -> Case:
    """A consultation: VGR supports it with a comment, Skåne is still writing its answer."""
    ks = world.ks_in("consultation")
    vgr = response(world, ks, "vgr")
    world.fire(vgr, "start_response", "vgr-coordinator")
    world.fire(
        vgr,
        "submit",
        "vgr-coordinator",
        comment="=SUMMA(A1) Bra, men ta med äldre.",
        params={"position": "supports_with_reservations"},
    )
    world.fire(response(world, ks, "skane"), "start_response", "skane-coordinator")
    return ks


def test_the_npo_reads_every_answer_on_one_page(ui: Ui, world: World) -> None:
    ks = answered_consultation(world)
    ui.login("npo-chair")
    case_page = ui.get(f"/arenden/{ks.id}")
    link = case_page.doc.by_id("remissammanstallning")
    assert link.attrs["href"] == f"/arenden/{ks.id}/remissammanstallning"
    page = ui.get(link.attrs["href"])
    counts = page.doc.by_id("antal").text
    assert "Tillstyrker med reservationer: 1" in counts
    assert "Tillstyrker: 0" in counts and "Inte besvarat: 20" in counts
    rows = page.doc.by_id("svar").find("tbody").find_all("tr")
    assert len(rows) == 21
    vgr = next(r for r in rows if "Västra Götalandsregionen" in r.text)
    assert "Tillstyrker med reservationer" in vgr.text
    assert "=SUMMA(A1) Bra, men ta med äldre." in vgr.text
    assert "Vgr Coordinator" in vgr.text
    missing = page.doc.by_id("ej-besvarat").text
    assert "Region Skåne – Under arbete" in missing
    assert "Västra Götalandsregionen" not in missing
    # Printable: the print stylesheet hides the navigation; the downloads are linked.
    assert page.doc.by_id("remiss-csv") and page.doc.by_id("remiss-xlsx")


def test_downloads_are_safe_from_formulas(ui: Ui, world: World) -> None:
    ks = answered_consultation(world)
    ui.login("npo-lead")
    csv = ui.get(f"/arenden/{ks.id}/remissammanstallning.csv")
    assert csv.response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv.response.headers["Content-Disposition"]
    text = csv.response.get_data().decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "Region;Läge;Ställningstagande;Kommentar;Besvarat av;Besvarat"
    assert len(lines) == 22
    vgr = next(line for line in lines if line.startswith("Västra"))
    assert ";'=SUMMA(A1) Bra, men ta med äldre.;" in vgr  # never a formula
    xlsx = ui.get(f"/arenden/{ks.id}/remissammanstallning.xlsx")
    assert xlsx.response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    with zipfile.ZipFile(io.BytesIO(xlsx.response.get_data())) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula anywhere
    assert "=SUMMA(A1) Bra, men ta med äldre." in sheet  # kept as inline text
    assert "Västra Götalandsregionen" in sheet and "Ställningstagande" in sheet


def test_only_the_owner_and_above_may_read_it(ui: Ui, world: World) -> None:
    ks = answered_consultation(world)
    for who in ("vgr-coordinator", "skane-chair", "other-npo-chair", "nobody"):
        ui.login(who)
        assert not ui.get(f"/arenden/{ks.id}").doc.has_id("remissammanstallning")
        for suffix in ("", ".csv", ".xlsx"):
            ui.get(f"/arenden/{ks.id}/remissammanstallning{suffix}", expect=404)
    for who in ("npo-viewer", "admin"):
        ui.login(who)
        ui.get(f"/arenden/{ks.id}/remissammanstallning")
    # A knowledge support never sent on consultation has none.
    ui.login("npo-chair")
    ui.get(f"/arenden/{world.ks_in('review').id}/remissammanstallning", expect=404)


def test_closing_warns_of_regions_still_writing(ui: Ui, world: World) -> None:
    ks = answered_consultation(world)
    ui.login("npo-chair")
    form = ui.get(f"/arenden/{ks.id}").doc.by_id("handling-close_consultation")
    assert "1 region arbetar fortfarande med sitt svar: Region Skåne." in form.text
    world.fire(response(world, ks, "skane"), "decline", "skane-coordinator", comment="Hinner ej.")
    form = ui.get(f"/arenden/{ks.id}").doc.by_id("handling-close_consultation")
    assert "arbetar fortfarande" not in form.text


def test_cancelling_says_what_it_does_and_needs_the_box(ui: Ui, world: World) -> None:
    ks = answered_consultation(world)
    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    form = page.doc.by_id("handling-cancel")
    assert "action-danger" in form.attrs["class"]
    assert form.find("button").text == "Avbryt kunskapsstödet"
    assert "danger" in form.find("button").attrs["class"]
    assert "Avbryt kunskapsstödet: 20 remissvar avbryts." in form.text
    box = form.find("input", name="bekraftat")
    assert box.attrs["type"] == "checkbox" and "required" in box.attrs
    assert all(b != "Avbryt" for b in page.buttons())
    events = world.session.scalar(select(func.count()).select_from(CaseEvent))
    refused = ui.fire(ks.id, "cancel", expect=422, comment="Ersätts av ett annat stöd.")
    assert world.session.scalar(select(func.count()).select_from(CaseEvent)) == events
    world.session.refresh(ks)
    assert ks.state == "consultation"
    again = refused.doc.by_id("handling-cancel")
    error = again.by_id("handling-cancel-bekrafta-fel")
    assert "Kryssa i rutan" in error.text
    box = again.find("input", name="bekraftat")
    assert box.attrs["aria-invalid"] == "true"
    assert "handling-cancel-bekrafta-fel" in box.attrs["aria-describedby"]
    assert again.find("textarea").text == "Ersätts av ett annat stöd."  # kept as sent
    ui.fire(ks.id, "cancel", comment="Ersätts av ett annat stöd.", bekraftat="ja")
    world.session.refresh(ks)
    assert ks.state == "cancelled"
    states = world.session.scalars(
        select(Case.state).where(Case.knowledge_support_id == ks.id, Case.id != ks.id)
    )
    assert set(states) == {"submitted", "cancelled"}


def test_destructive_triggers_are_declared_and_never_named_avbryt() -> None:
    destructive = {
        (machine.case_type, spec.name)
        for machine in MACHINES.values()
        for spec in machine.triggers.values()
        if spec.destructive
    }
    assert {
        ("knowledge_support", "cancel"),
        ("knowledge_support", "withdraw"),
        ("regional_adaptation", "reject"),
        ("local_implementation", "waive"),
    } <= destructive
    for machine in MACHINES.values():
        for spec in machine.triggers.values():
            assert spec.label != "Avbryt", (machine.case_type, spec.name)
            if spec.destructive:
                assert spec.grants, "a destructive trigger is one a person fires"


def test_a_user_who_may_not_fire_gets_the_engines_answer(ui: Ui, world: World) -> None:
    ks = world.ks_in("review")
    ui.login("npo-lead")  # a process lead may not cancel: 403, not the confirmation
    ui.fire(ks.id, "cancel", expect=403, comment="x", lock_version=str(ks.lock_version))
