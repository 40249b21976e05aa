"""An indikatorlista in the web UI: its page shows the targets and their attainment, and the
coordinator and chair move it through its machine with the page's forms."""

from __future__ import annotations

from kflow.followup.lists import create_indicator_list, targets_of
from kflow.followup.models import Indicator, Measurement


def test_a_list_is_built_submitted_and_approved_in_the_ui(ui, world):
    ks = world.ks_in("published")
    ras = Indicator(
        knowledge_support_id=ks.id,
        name="Andel patienter med hjärtsvikt som har ordinerats RAS-hämmare",
        unit_of_measure="procent",
        aggregation="ratio",
    )
    world.session.add(ras)
    world.session.flush()
    case = create_indicator_list(
        world.session,
        world.authority("vgr-coordinator"),
        owner="vgr",
        year=2026,
        scope="sjukhus",
        title="Indikatorlista VGR 2026",
    )
    world.session.add(
        Measurement(
            indicator_id=ras.id,
            unit_id=world.units["vgr-psyk-1"].id,
            period="2026-T1",
            value=90.0,
            numerator=45,
            denominator=50,
        )
    )
    world.session.flush()
    ui.login("vgr-coordinator")
    page = ui.get(f"/arenden/{case.id}")
    assert "Indikatorlista VGR 2026" in page.text and "Under arbete" in page.text
    assert {"set_target", "submit"} <= set(page.trigger_forms())
    ui.fire(
        case.id,
        "set_target",
        indicator=str(ras.id),
        unit="vgr-psyk-1",
        target_value="85",
        tolerance_pct="5",
    )
    assert [t.target_value for t in targets_of(world.session, case.id)] == [85.0]
    page = ui.get(f"/arenden/{case.id}")
    assert "Måltal" in page.text and "Psykiatri Göteborg" in page.text
    # The history names what the codes and ids in the trigger's parameters stand for.
    entry = page.html[page.html.index('id="historik"') :]
    assert "ordinerats RAS-hämmare</dd>" in entry
    assert f"<dd>{ras.id}</dd>" not in entry and "vgr-psyk-1" not in entry
    assert "<dd>85</dd>" in entry and "85.0" not in entry
    ui.fire(case.id, "submit")
    ui.login("vgr-chair")
    ui.fire(case.id, "approve", decision_ref="RS 2026-14")
    page = ui.get(f"/arenden/{case.id}", period="2026-T1")
    assert "Fastställd" in page.text
    assert "Uppfyllt" in page.text and "90" in page.text  # 45/50 = 90 % against 85
    ui.login("local-member")  # a unit below reads the list that sets its targets
    assert "Indikatorlista VGR 2026" in ui.get(f"/arenden/{case.id}").text
    ui.login("skane-coordinator")
    ui.get(f"/arenden/{case.id}", expect=404)
