"""Case pages: facts, the lifecycle diagram, the timeline, related cases and allowed buttons."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from kflow.cases.models import Case
from kflow.engine.authority import Actor, Authority
from kflow.engine.create import create_knowledge_support
from kflow.queries import casepage
from kflow.states import MACHINES
from tests.support.ui_support import Page, Ui
from tests.support.world import World


def allowed(world: World, case: Case, who: str) -> list[str]:
    return Authority(world.session, Actor(world.users[who])).allowed_triggers(case)


def check_case_page(page: Page, case: Case) -> None:
    """The parts every case page has."""
    doc = page.doc
    machine = MACHINES[case.type]
    svg = doc.find("svg")
    assert svg.attrs["role"] == "img"
    current = svg.find_all("g", class_="dg-state dg-current") + svg.find_all(
        "g", class_="dg-state dg-current dg-final"
    )
    assert [g.attrs["data-state"] for g in current] == [case.state]
    assert "Nuvarande läge" in current[0].text
    assert len(svg.find_all("rect")) >= len(machine.states)
    assert doc.by_id("lage").text == case.state_label
    for section in ("fakta-rubrik", "atgarder-rubrik", "livscykel-rubrik", "historik-rubrik"):
        assert doc.has_id(section), section
    assert doc.has_id("relaterade-rubrik")
    headings = [h.tag for h in doc.find("main").find_all() if h.tag in ("h1", "h2", "h3")]
    assert headings[0] == "h1" and headings.count("h1") == 1
    for before, after in itertools.pairwise(headings):
        assert int(after[1]) <= int(before[1]) + 1, headings  # no level skipped
    assert doc.find("ol", class_="timeline").find_all("li")


def buttons_for(page: Page) -> list[str]:
    return page.trigger_forms()


def test_knowledge_support_page(ui: Ui, world: World) -> None:
    ks = world.ks_in("published")
    world.adaptation_in("implementing", ks)
    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    check_case_page(page, ks)
    assert page.doc.find("h1").text == "Depression hos vuxna"
    assert buttons_for(page) == allowed(world, ks, "npo-chair") == ["start_revision", "withdraw"]
    assert set(page.buttons()) >= {"Påbörja revidering", "Avpublicera"}
    table = page.doc.by_id("regioner")
    body = table.find("tbody").find_all("tr")
    assert len(body) == 21
    assert all(tr.find("th").attrs["scope"] == "row" for tr in body)
    vgr = next(tr for tr in body if tr.find("th").text == "Västra Götalandsregionen")
    assert "Införande pågår lokalt" in vgr.text
    assert "0 av 2" in vgr.text
    assert "Inskickat" not in vgr.text
    assert table.find("caption").text.startswith("Regionernas tillämpning")
    # The NPO's chair may open every region's adaptation from here.
    assert len(table.find_all("a")) >= 21
    timeline = page.doc.find("ol", class_="timeline")
    entries = timeline.find_all("li")
    assert entries[0].text.startswith(entries[0].find("time").text)
    # Newest first (issue 17), the oldest last: the creation, by name, role and unit.
    assert "Skapat" in entries[-1].text
    assert "Npo Chair, ordförande, Psykisk hälsa" in entries[-1].text
    assert "@test.se" not in timeline.text
    times = [li.find("time").attrs["datetime"] for li in entries]
    assert times == sorted(times, reverse=True)
    toggle = page.doc.by_id("historik-ordning").find("a")
    assert toggle.attrs["href"] == f"/arenden/{ks.id}?historik=aldst#historik"
    oldest = ui.get(f"/arenden/{ks.id}", historik="aldst").doc.find("ol", class_="timeline")
    assert [li.find("time").attrs["datetime"] for li in oldest.find_all("li")] == times[::-1]
    published = next(e for e in entries if "Fastställ och publicera" in e.text)
    assert "Väntar på fastställande → Publicerad" in published.text
    assert "Beslutsreferens NPO-2026-01" in published.text


def test_times_are_shown_in_stockholm(ui: Ui, world: World) -> None:
    ks = world.create_ks()
    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    created = page.doc.find("ol", class_="timeline").find_all("time")[-1]
    local = ks.created_at.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")
    assert created.text == local


def test_consultation_response_page(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{response.id}")
    check_case_page(page, response)
    assert page.doc.find("h1").text == "Remissvar: Västra Götalandsregionen"
    assert buttons_for(page) == allowed(world, response, "vgr-coordinator")
    assert buttons_for(page) == ["start_response", "decline"]
    related = page.doc.by_id("relaterade")
    assert related.find("a").attrs["href"] == f"/arenden/{ks.id}"


def test_regional_adaptation_page(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    ui.login("vgr-lead")
    page = ui.get(f"/arenden/{ra.id}")
    check_case_page(page, ra)
    assert buttons_for(page) == allowed(world, ra, "vgr-lead") == ["start_follow_up"]
    units = page.doc.by_id("lokala-enheter")
    names = [tr.find("th").text for tr in units.find("tbody").find_all("tr")]
    assert names == ["Psykiatri Göteborg", "Psykiatri Skaraborg"]
    assert "Tilldelad" in units.text
    assert (
        page.doc.by_id("relaterade").find("a").attrs["href"]
        == f"/arenden/{ra.knowledge_support_id}"
    )


def test_local_implementation_page(ui: Ui, world: World) -> None:
    li = world.implementation_in("implementing")
    ui.login("local-lead")
    page = ui.get(f"/arenden/{li.id}")
    check_case_page(page, li)
    assert buttons_for(page) == allowed(world, li, "local-lead")
    assert buttons_for(page) == ["report_implemented", "report_deviation"]
    links = [a.attrs["href"] for a in page.doc.by_id("relaterade").find_all("a")]
    assert links == [f"/arenden/{li.parent_id}", f"/arenden/{li.knowledge_support_id}"]
    assert "Psykiatri Göteborg" in page.doc.find("h1").text


def test_read_only_user_sees_no_buttons(ui: Ui, world: World) -> None:
    ks = world.ks_in("published")
    ui.login("npo-viewer")
    page = ui.get(f"/arenden/{ks.id}")
    assert buttons_for(page) == []
    assert "Du har inget att göra i ärendet" in page.text


def test_other_regions_cases_are_not_found(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("skane-local-lead")
    ui.get(f"/arenden/{li.id}", expect=404)
    ui.get(f"/arenden/{ra.id}", expect=404)
    ui.get("/arenden/999999", expect=404)
    # A local lead of VGR sees the adaptation and their own unit's implementation; of the
    # other unit's only that there is one: not its name, state, due date or id.
    ui.login("local-lead")
    page = ui.get(f"/arenden/{ra.id}")
    units = page.doc.by_id("lokala-enheter")
    rows = units.find("tbody").find_all("tr")
    assert [tr.find("th").text for tr in rows] == ["Psykiatri Göteborg"]
    assert [a.attrs["href"] for a in units.find_all("a")] == [f"/arenden/{li.id}"]
    assert units.find("caption").text == "Lokala enheter (1)"
    assert page.doc.by_id("andra-enheter").text == (
        "Ärendet har också lämnats över till 1 annan lokal enhet, som du inte har behörighet "
        "att se."
    )
    other = world.implementation(ra, "vgr-psyk-2")
    assert "Psykiatri Skaraborg" not in page.doc.by_id("relaterade").text
    assert f"/arenden/{other.id}" not in page.html
    ui.get(f"/arenden/{other.id}", expect=404)
    # The region's staff see both.
    ui.login("vgr-lead")
    page = ui.get(f"/arenden/{ra.id}")
    assert len(page.doc.by_id("lokala-enheter").find("tbody").find_all("tr")) == 2
    assert not page.doc.has_id("andra-enheter")


def test_knowledge_support_page_shows_only_readable_regional_cases(ui: Ui, world: World) -> None:
    """Every region's adaptation state and local progress (the overview's public aggregate),
    but another region's consultation response, due date and links not at all."""
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.session.flush()
    ui.login("skane-coordinator")
    page = ui.get(f"/arenden/{ks.id}")
    table = page.doc.by_id("regioner")
    rows = {tr.find("th").text: tr for tr in table.find("tbody").find_all("tr")}
    vgr_state, vgr_due, _, vgr_done = rows["Västra Götalandsregionen"].find_all("td")
    assert vgr_state.text == "Införande pågår lokalt"
    assert vgr_done.text == "0 av 2"
    assert vgr_due.text == "Ingen behörighet"
    assert not rows["Västra Götalandsregionen"].find_all("a")
    assert f"/arenden/{ra.id}" not in page.html
    skane = rows["Region Skåne"]
    links = [a.attrs["href"] for a in skane.find_all("a")]
    assert links[0] == f"/arenden/{world.adaptation(ks, 'skane').id}"
    response = world.case_of("consultation_response", ks, "skane")
    assert links[1:] == [f"/arenden/{response.id}"]
    assert skane.find_all("td")[1].find_all("time")
    assert "behörighet" in page.doc.by_id("regioner-hjalp").text
    # The NPO's chair reads every region's cases: no help text, no row without its details.
    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    assert not page.doc.has_id("regioner-hjalp")
    assert "Ingen behörighet" not in page.doc.by_id("regioner").text


def test_consultation_responses_of_other_regions_are_not_shown(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    vgr = world.case_of("consultation_response", ks, "vgr")
    world.fire(vgr, "start_response", "vgr-coordinator")
    ui.login("skane-coordinator")
    page = ui.get(f"/arenden/{ks.id}")
    rows = {tr.find("th").text: tr for tr in page.doc.by_id("regioner").find_all("tr")[1:]}
    assert rows["Västra Götalandsregionen"].find_all("td")[2].text == "Ingen behörighet"
    assert "Under arbete" not in page.doc.by_id("regioner").text
    skane = rows["Region Skåne"].find_all("td")[2]
    assert skane.text == "Begärt"
    response = world.case_of("consultation_response", ks, "skane")
    assert skane.find("a").attrs["href"] == f"/arenden/{response.id}"
    ui.login("vgr-viewer")
    rows = {
        tr.find("th").text: tr
        for tr in ui.get(f"/arenden/{ks.id}").doc.by_id("regioner").find_all("tr")[1:]
    }
    assert rows["Västra Götalandsregionen"].find_all("td")[2].text == "Under arbete"


def test_a_related_case_the_viewer_cannot_read_carries_no_id_state_or_due(world: World) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    ra.due = world.today() - dt.timedelta(days=3)
    world.session.flush()
    today = world.today()
    outside = world.authority("skane-coordinator")
    hidden = casepage.related(outside, ra, "Västra Götalandsregionen", ks.owner_id, today)
    assert hidden == casepage.Linked("Västra Götalandsregionen", "Regional tillämpning")
    assert not hidden.readable
    public = casepage.related(outside, ra, "VGR", ks.owner_id, today, public_state=True)
    assert (public.case_id, public.due, public.overdue_days) == (None, None, 0)
    assert (public.state, public.state_label) == ("implementing", "Införande pågår lokalt")
    inside = casepage.related(world.authority("vgr-viewer"), ra, "VGR", ks.owner_id, today)
    assert (inside.case_id, inside.due, inside.overdue_days) == (ra.id, ra.due, 3)


def test_parameters_render_from_the_declaration(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("adapting")
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{ra.id}")
    form = page.doc.by_id("handling-hand_off")
    assert form.find("legend").text == "Lämna över till lokala enheter"
    units = form.by_id("f-hand_off-units")
    assert units.tag == "fieldset"
    assert units.find("legend").text.startswith("Lokala enheter")
    codes = [i.attrs["value"] for i in units.find_all("input")]
    assert codes == ["vgr-rpo-enhet", "vgr-psyk-1", "vgr-psyk-2"]
    for code in codes:
        assert form.find("label", for_=f"f-hand_off-units-{code}").text
    due = form.by_id("f-hand_off-due")
    assert due.attrs["type"] == "date"
    assert due.attrs["min"] > world.today().isoformat()
    assert form.find("label", for_="f-hand_off-due").text == "Infört senast"
    assert form.find("input", name="lock_version").attrs["value"] == str(ra.lock_version)
    comment = form.by_id("f-hand_off-comment")
    assert comment.tag == "textarea" and "required" not in comment.attrs

    received = world.adaptation(world.ks_in("published"))
    page = ui.get(f"/arenden/{received.id}")
    assign = page.doc.by_id("f-assign-unit")
    assert assign.tag == "select" and "required" in assign.attrs
    assert [o.attrs["value"] for o in assign.find_all("option")] == ["", "vgr-rpo-psyk"]


def test_choice_and_required_comment(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    world.fire(response, "start_response", "vgr-coordinator")
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{response.id}")
    position = page.doc.by_id("f-submit-position")
    assert position.tag == "select"
    options = [(o.attrs["value"], o.text) for o in position.find_all("option")]
    assert options[1:] == [
        ("supports", "Tillstyrker"),
        ("supports_with_reservations", "Tillstyrker med reservationer"),
        ("opposes", "Avstyrker"),
    ]
    comment = page.doc.by_id("f-submit-comment")
    assert "required" in comment.attrs
    assert page.doc.find("label", for_="f-submit-comment").text == "Kommentar (krävs)"


def test_every_control_has_a_label(ui: Ui, world: World) -> None:
    ks = world.ks_in("review")
    ui.login("npo-chair")
    page = ui.get(f"/arenden/{ks.id}")
    doc = page.doc
    labelled = {label.attrs["for"] for label in doc.find_all("label")}
    for tag in ("input", "select", "textarea"):
        for control in doc.find_all(tag):
            if control.attrs.get("type") in ("hidden", "submit"):
                continue
            assert control.attrs.get("id") in labelled, control.attrs


def test_script_in_title_and_comment_is_escaped(ui: Ui, world: World) -> None:
    evil = "<script>alert('x')</script>"
    ks = create_knowledge_support(
        world.session,
        world.authority("npo-chair"),
        title=f"Titel {evil}",
        kind="rapport",
        owner="npo-psykisk-halsa",
        description=f"Beskrivning {evil}",
    )
    world.fire(ks, "commission", "npo-chair", comment=f'<img src=x onerror="alert(1)">{evil}')
    ui.login("npo-chair")
    for path in (f"/arenden/{ks.id}", "/", "/oversikt"):
        html = ui.get(path).html
        assert "<script>" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;" in html
    assert "Titel <script>" in ui.get(f"/arenden/{ks.id}").doc.find("h1").text
    csv = ui.get("/oversikt.csv").response.get_data(as_text=True)
    assert "Titel <script>" in csv  # CSV is data, not markup


def test_skip_link_and_landmarks(ui: Ui, world: World) -> None:
    ks = world.create_ks()
    ui.login("npo-chair")
    doc = ui.get(f"/arenden/{ks.id}").doc
    skip = doc.find("a", class_="skip-link")
    assert skip.attrs["href"] == "#innehall"
    assert doc.find("main").attrs["id"] == "innehall"
    assert doc.find("header") and doc.find("nav", **{"aria-label": "Huvudmeny"})
    current = doc.find("nav", **{"aria-label": "Huvudmeny"}).find_all("a")
    # An NPO chair may start knowledge supports; no Administration for a non-admin.
    assert [a.text for a in current] == [
        "Min inkorg",
        "Översikt",
        "Försenade",
        "Uppföljning",
        "Nytt kunskapsstöd",
    ]
    assert 'style="' not in ui.get(f"/arenden/{ks.id}").html
    assert "<script" not in ui.get(f"/arenden/{ks.id}").html


def test_printable_summary(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{ra.id}")
    assert page.doc.by_id("utskrift").attrs["href"] == f"/arenden/{ra.id}/sammanfattning"
    assert page.doc.find("details", class_="diagram-fold").find("svg")  # folded, not gone
    summary = ui.get(f"/arenden/{ra.id}/sammanfattning")
    assert summary.doc.find("h1").text == page.doc.find("h1").text
    assert not summary.doc.find_all("form", class_="action")  # no forms on paper
    rows = summary.doc.by_id("sammanfattning-historik").find("tbody").find_all("tr")
    assert "Skapat" in rows[-1].text  # newest first, the creation last
    assert "Vgr Coordinator, samordnare, Västra Götalandsregionen" in summary.text
    assert "@test.se" not in summary.doc.by_id("sammanfattning-historik").text
    ui.login("skane-coordinator")
    ui.get(f"/arenden/{ra.id}/sammanfattning", expect=404)
