"""Acting on cases through the forms: triggers with parameters, refusals, stale pages,
deviations and indicator measurements. Every change goes through the services."""

from __future__ import annotations

from sqlalchemy import select

from kflow.cases.models import Case
from kflow.followup import indicators
from kflow.followup.models import Measurement
from tests.support.checks import count_events, events, nothing_written
from tests.support.ui_support import Ui
from tests.support.world import World


def reload(world: World, case: Case) -> Case:
    world.session.expire(case)
    return case


def test_simple_trigger_with_optional_comment(ui: Ui, world: World) -> None:
    ks = world.ks_in("commissioned")
    ui.login("npo-lead")
    page = ui.fire(ks.id, "start_drafting", comment="Vi börjar nu")
    assert page.response.headers["Location"] == f"/arenden/{ks.id}"
    assert reload(world, ks).state == "drafting"
    last = events(world.session, ks)[-1]
    assert (last.trigger, last.comment, last.actor) == (
        "start_drafting",
        "Vi börjar nu",
        "npo-lead@test.se",
    )
    shown = ui.get(f"/arenden/{ks.id}")
    assert "”Starta framtagande” är gjort" in shown.text
    assert "Vi börjar nu" in shown.doc.find("ol", class_="timeline").text


def test_param_form_hand_off(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("adapting")
    ui.login("vgr-coordinator")
    due = world.today().replace(year=world.today().year + 1).isoformat()
    data = {"units": ["vgr-psyk-1", "vgr-rpo-enhet"], "due": due}
    page = ui.fire(ra.id, "hand_off", **data)
    assert page.status == 303
    assert reload(world, ra).state == "implementing"
    assert "2 lokala införanden skapades" in ui.get(f"/arenden/{ra.id}").text
    last = events(world.session, ra)[-1]
    assert last.params == {"units": ["vgr-psyk-1", "vgr-rpo-enhet"], "due": due}
    shown = ui.get(f"/arenden/{ra.id}")
    assert (
        "Lokala enheter Psykiatri Göteborg, Enhet under RPO"
        in shown.doc.find("ol", class_="timeline").text
    )


def test_choice_param_and_required_comment(ui: Ui, world: World) -> None:
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    world.fire(response, "start_response", "vgr-coordinator")
    ui.login("vgr-coordinator")
    with nothing_written(world.session, response):
        page = ui.fire(response.id, "submit", expect=422, position="supports")
    assert "Skriv en kommentar." in page.doc.by_id("fel").text
    # The error sits at its field too (issue 17): marked invalid and described by its message.
    comment = page.doc.by_id("f-submit-comment")
    assert comment.attrs["aria-invalid"] == "true"
    assert "f-submit-comment-error" in comment.attrs["aria-describedby"].split()
    assert page.doc.by_id("f-submit-comment-error").text.endswith("Skriv en kommentar.")
    assert "aria-invalid" not in page.doc.by_id("f-submit-position").attrs
    # The failed form keeps what was filled in.
    selected = page.doc.by_id("f-submit-position").find("option", selected="")
    assert selected.attrs["value"] == "supports"
    with nothing_written(world.session, response):
        page = ui.fire(response.id, "submit", expect=422, comment="Bra")
    assert "Fyll i ”Ställningstagande”." in page.doc.by_id("fel").text
    assert page.doc.by_id("f-submit-position").attrs["aria-invalid"] == "true"
    # Every problem at once: both fields empty, both marked.
    with nothing_written(world.session, response):
        both = ui.fire(response.id, "submit", expect=422)
    assert "2 fält behöver rättas" in both.doc.by_id("fel").text
    for field in ("f-submit-position", "f-submit-comment"):
        assert both.doc.by_id(field).attrs["aria-invalid"] == "true"
        assert both.doc.has_id(f"{field}-error")
    assert page.doc.by_id("f-submit-comment").text == "Bra"
    ui.fire(response.id, "submit", position="supports_with_reservations", comment="Bra")
    assert reload(world, response).state == "submitted"
    assert response.position == "supports_with_reservations"  # type: ignore[attr-defined]


def test_bad_param_value_is_422_in_swedish(ui: Ui, world: World) -> None:
    ra = world.adaptation(world.ks_in("published"))
    ui.login("vgr-coordinator")
    with nothing_written(world.session, ra):
        page = ui.fire(ra.id, "assign", expect=422, unit="skane-psyk-1")
    assert "Regional grupp: skane-psyk-1 är ingen regional grupp" in page.doc.by_id("fel").text
    ui.fire(ra.id, "assign", unit="vgr-rpo-psyk")
    assert reload(world, ra).assignee_id == world.units["vgr-rpo-psyk"].id


def test_stale_page_is_refused_with_a_clear_message(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("local-lead")
    page = ui.get(f"/arenden/{li.id}")
    stale = page.doc.by_id("handling-acknowledge").find("input", name="lock_version")
    world.fire(li, "acknowledge", "local-member")  # someone else acts first
    n = count_events(world.session)
    refused = ui.fire(
        li.id, "acknowledge", expect=409, lock_version=stale.attrs["value"], comment="Jag"
    )
    assert "Någon annan har ändrat ärendet" in refused.doc.by_id("fel").text
    assert count_events(world.session) == n
    # The page shows the case as it is now, with the new version in its forms.
    assert refused.doc.by_id("lage").text == "Kvitterad"
    assert refused.trigger_forms() == ["start_implementation"]
    fresh = refused.doc.by_id("handling-start_implementation").find("input", name="lock_version")
    assert fresh.attrs["value"] == str(reload(world, li).lock_version)


def test_missing_lock_version_is_refused(ui: Ui, world: World) -> None:
    ks = world.ks_in("commissioned")
    ui.login("npo-lead")
    with nothing_written(world.session, ks):
        page = ui.post(f"/arenden/{ks.id}/handling", {"trigger": "start_drafting"}, expect=422)
    assert "Ladda om sidan" in page.text


def test_forbidden_and_invalid_moves(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("local-member")
    version = str(li.lock_version)
    with nothing_written(world.session, li):
        page = ui.fire(li.id, "start_implementation", expect=403, lock_version=version)
    assert "Du har inte behörighet att göra ”Starta införande”" in page.text
    world.fire(li, "acknowledge", "local-lead")
    ui.login("local-lead")
    with nothing_written(world.session, li):
        page = ui.fire(
            li.id, "acknowledge", expect=409, lock_version=str(reload(world, li).lock_version)
        )
    assert "”Kvittera” går inte att göra när ärendet är i läget ”Kvitterad”" in page.text
    with nothing_written(world.session, li):
        page = ui.fire(li.id, "explode", expect=422, lock_version=str(li.lock_version))
    assert "Okänd trigger" in page.text


def test_report_deviation_and_resolve(ui: Ui, world: World) -> None:
    li = world.implementation_in("implementing")
    ui.login("local-member")
    page = ui.get(f"/arenden/{li.id}")
    assert page.trigger_forms() == ["report_deviation"]
    form = page.doc.by_id("handling-report_deviation")
    assert "required" in form.by_id("f-report_deviation-comment").attrs
    ui.fire(li.id, "report_deviation", expect=422, comment="  ")
    ui.fire(li.id, "report_deviation", comment="Personalbrist under sommaren")
    assert reload(world, li).state == "deviation"
    ui.login("local-lead")
    ui.fire(li.id, "resolve_deviation", comment="Bemanningen löst")
    assert reload(world, li).state == "implementing"
    timeline = ui.get(f"/arenden/{li.id}").doc.find("ol", class_="timeline").text
    assert "Personalbrist under sommaren" in timeline
    # People, not addresses (issue 17): the name, the role used and the unit it is held in.
    assert "Local Member, ledamot, Psykiatri Göteborg" in timeline
    assert "@test.se" not in timeline


def test_report_measurement(ui: Ui, world: World) -> None:
    li = world.implementation_in("implemented")
    ks = reload(world, world.session.get(Case, li.knowledge_support_id))  # type: ignore[arg-type]
    indicator = indicators.define_indicator(
        world.session,
        world.authority("npo-chair"),
        ks,  # type: ignore[arg-type]
        name="Andel med vårdplan",
        unit_of_measure="procent",
        target_value=80,
    )
    ui.login("local-lead")
    page = ui.get(f"/arenden/{li.id}")
    form = page.doc.by_id("rapportera-matvarde")
    options = [o.text for o in form.by_id("m-indicator").find_all("option")]
    assert options == ["Välj …", "Andel med vårdplan (procent)"]
    for control in ("m-indicator", "m-period", "m-value"):
        assert form.find("label", for_=control).text
    bad = ui.post(
        f"/arenden/{li.id}/matvarde",
        {"indicator": str(indicator.id), "period": "våren", "value": "72,5"},
        expect=422,
    )
    assert "Period måste vara ÅÅÅÅ" in bad.doc.by_id("fel").text
    assert bad.doc.by_id("m-value").attrs["value"] == "72,5"
    done = ui.post(
        f"/arenden/{li.id}/matvarde",
        {"indicator": str(indicator.id), "period": "2026-Q1", "value": "72,5"},
        expect=303,
    )
    assert done.response.headers["Location"] == f"/arenden/{li.id}#matvarden"
    stored = world.session.scalar(
        select(Measurement).where(Measurement.indicator_id == indicator.id)
    )
    assert stored is not None and (stored.period, stored.value) == ("2026-Q1", 72.5)
    shown = ui.get(f"/arenden/{li.id}")
    assert "Mätvärdet är sparat." in shown.text
    assert "72,5 procent" in shown.doc.by_id("rapporterade-matvarden").text
    # The knowledge support's page lists the indicator.
    ks_page = ui.get(f"/arenden/{ks.id}")  # type: ignore[union-attr]
    assert "Andel med vårdplan" in ks_page.doc.by_id("indikatorer").text


def test_measurement_refused_outside_measuring_states(ui: Ui, world: World) -> None:
    li = world.implementation_in("implementing")
    ui.login("local-lead")
    page = ui.get(f"/arenden/{li.id}")
    assert not page.doc.has_id("rapportera-matvarde")
    refused = ui.post(
        f"/arenden/{li.id}/matvarde", {"indicator": "1", "period": "2026", "value": "1"}
    )
    assert refused.status == 409
    # The region's coordinator may report for any unit of the region (lifecycle.md §6.2), but
    # indicator 1 is not one of this knowledge support's.
    ui.login("vgr-coordinator")
    assert (
        ui.post(
            f"/arenden/{li.id}/matvarde", {"indicator": "1", "period": "2026", "value": "1"}
        ).status
        == 422
    )
