"""The server-rendered lifecycle diagram: every state and transition drawn, one state current."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kflow.states import MACHINES
from kflow.web.ui import diagram

SVG = "{http://www.w3.org/2000/svg}"


def svg(case_type: str, state: str | None = None) -> ET.Element:
    return ET.fromstring(str(diagram.render(case_type, state)))  # noqa: S314 (our own markup)


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("case_type", "state"),
    [(t, s) for t, m in MACHINES.items() for s in m.state_labels],
)
def test_each_state_can_be_current(case_type: str, state: str) -> None:
    root = svg(case_type, state)
    groups = [g for g in root.iter(f"{SVG}g") if "dg-state" in g.get("class", "")]
    assert sorted(g.get("data-state") for g in groups) == sorted(MACHINES[case_type].state_labels)
    current = [g for g in groups if "dg-current" in g.get("class", "")]
    assert [g.get("data-state") for g in current] == [state]
    rect = current[0].find(f"{SVG}rect")
    assert rect is not None and float(rect.get("stroke-width", "0")) >= 3
    assert "Nuvarande läge" in texts(current[0])
    desc = root.find(f"{SVG}desc")
    assert desc is not None and MACHINES[case_type].state_label(state) in (desc.text or "")


@pytest.mark.parametrize("case_type", list(MACHINES))
def test_every_transition_is_drawn_or_noted(case_type: str) -> None:
    machine = MACHINES[case_type]
    plan = diagram.layout(case_type)
    drawn = (
        " ".join(e.label for e in plan.edges)
        + " "
        + " ".join(n.loop_label or "" for n in plan.nodes)
    )
    noted = {n.label for n in plan.notes}
    for spec in machine.triggers.values():
        assert spec.label in drawn or spec.label in noted, spec.name
    root = svg(case_type)
    assert not [g for g in root.iter(f"{SVG}g") if "dg-current" in g.get("class", "")]
    for line in diagram.describe(case_type):
        assert "→" in line


@pytest.mark.parametrize("case_type", list(MACHINES))
def test_states_do_not_overlap_and_fit(case_type: str) -> None:
    plan = diagram.layout(case_type)
    boxes = [
        (n.x - diagram.NODE_W / 2, n.y, n.x + diagram.NODE_W / 2, n.y + diagram.NODE_H)
        for n in plan.nodes
    ]
    for i, a in enumerate(boxes):
        assert a[0] >= 0 and a[2] <= plan.width and a[3] <= plan.height
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for edge in plan.edges:
        left, right = edge.extent
        assert left >= 0 and right <= plan.width, edge.label


def test_many_source_triggers_become_notes() -> None:
    assert [n.label for n in diagram.layout("regional_adaptation").notes] == [
        "Ompröva ny version",
        "Avbryt den regionala tillämpningen",
    ]
    assert diagram.note_texts("knowledge_support") == [
        "Avbryt kunskapsstödet → Avbruten: från alla lägen utom Publicerad, Avpublicerad, Avbruten."
    ]
    assert diagram.layout("consultation_response").notes == ()
