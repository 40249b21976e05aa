"""A follow-up report in the web UI: its page shows the period, the recipient and what the
report freezes (status as a word and a symbol), and the unit and its recipient move it with the
page's forms (lifecycle.md §6.6)."""

from __future__ import annotations

from kflow.followup.reports import open_reports
from tests.support.reports import (
    OPENS,
    approved_list,
    build_chain,
    indicator,
    measure,
    report_of,
)


def test_a_report_is_sent_returned_and_accepted_in_the_ui(ui, world):
    build_chain(world)
    ras = indicator(world)
    approved_list(world, ras)
    measure(world, ras, "vgr-lpt-sahlgrenska", "2026-T2", 70)  # target 80: not met
    open_reports(world.session, OPENS, world.settings)
    report = report_of(world, "vgr-lpt-sahlgrenska")
    ui.login("lpt-lead")
    page = ui.get(f"/arenden/{report.id}")
    assert "LPT Sahlgrenska, 2026-T2" in page.text and "Att rapportera" in page.text
    assert "Regionalt processteam hjärtsvikt" in page.text  # the recipient
    assert "✘ Ej uppfyllt" in page.text and "Förhandsvisning" in page.text
    assert "En analys krävs" in page.text
    assert page.trigger_forms() == ["submit"]
    refused = ui.fire(report.id, "submit", expect=422)
    assert "analys" in refused.text.lower()
    ui.fire(report.id, "submit", analysis="Två sjuksköterskor har slutat; rekrytering pågår.")
    page = ui.get(f"/arenden/{report.id}")
    assert "Inskickad" in page.text and "frystes" in page.text
    ui.login("rpt-lead")
    page = ui.get(f"/arenden/{report.id}")
    assert set(page.trigger_forms()) == {"accept", "return"}
    ui.fire(report.id, "return", comment="Beskriv åtgärderna för hösten.")
    ui.login("lpt-lead")
    ui.fire(report.id, "submit", analysis="Åtgärder: titreringsmottagning två dagar i veckan.")
    ui.login("rpt-chair")
    ui.fire(report.id, "accept")
    rpt = report_of(world, "vgr-rpt-hf")
    page = ui.get(f"/arenden/{rpt.id}")
    assert "LPT Sahlgrenska (2026-T2)" in page.text and "Mottagen" in page.text
    ui.login("skane-coordinator")
    ui.get(f"/arenden/{report.id}", expect=404)
