"""The server-drawn SVG chart (kflow.followup.charts): well-formed, accessible, escaped, and
free of anything the strict Content-Security-Policy would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kflow.followup.charts import Line, describe, line_chart, number, ticks

SVG = "{http://www.w3.org/2000/svg}"
PERIODS = ["2025-T3", "2026-T1", "2026-T2"]


def chart(**changes: object) -> ET.Element:
    args: dict[str, object] = {
        "chart_id": "diagram-7",
        "title": "Andel med vårdplan",
        "periods": PERIODS,
        "lines": [Line("Region Skåne", [70.0, None, 74.5]), Line("Hela riket", [80, 82, 83])],
        "target": 85.0,
        "unit": "procent",
    }
    args.update(changes)
    return ET.fromstring(line_chart(**args))  # type: ignore[arg-type]  # noqa: S314 (our own text)


def test_the_chart_is_an_accessible_image_with_a_title_and_description():
    svg = chart()
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "diagram-7-t diagram-7-d"
    assert svg.find(f"{SVG}title").text == "Andel med vårdplan"  # type: ignore[union-attr]
    desc = svg.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "2025-T3 till 2026-T2" in desc
    assert "Region Skåne: senast 74,5 procent (2026-T2)" in desc
    assert "Målvärdet 85 procent" in desc


def test_a_line_per_series_a_gap_breaks_it_and_the_target_is_dashed():
    svg = chart()
    lines = svg.findall(f"{SVG}polyline")
    # Skåne has no value in 2026-T1: two single-point runs; the nation one line of three.
    assert [len((p.get("points") or "").split()) for p in lines] == [1, 1, 3]
    target = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "chart-target"]
    assert len(target) == 1 and target[0].get("stroke-dasharray")
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert PERIODS[0] in texts and "procent" in texts and "Målvärde 85" in texts
    assert "Region Skåne" in texts and "Hela riket" in texts  # the legend
    # Lines differ by marker shape as well as colour.
    assert svg.findall(f"{SVG}circle") and svg.findall(f"{SVG}rect")


def test_nothing_a_strict_csp_blocks_and_every_text_escaped():
    text = line_chart(
        chart_id='x"><script>',
        title="<script>alert(1)</script>",
        periods=PERIODS,
        lines=[Line("A & B <i>", [1, 2, 3])],
        target=None,
    )
    ET.fromstring(text)  # noqa: S314 (our own text): still well-formed XML
    assert "<script" not in text and "style=" not in text and "<style" not in text
    assert "&lt;script&gt;" in text and "A &amp; B &lt;i&gt;" in text
    assert "href" not in text and "http://www.w3.org/2000/svg" in text


def test_no_values_and_a_single_period_still_draw():
    svg = chart(lines=[Line("Tom", [None])], periods=["2026"], target=None)
    assert svg.findall(f"{SVG}polyline") == []
    assert "Tom: inga värden." in (svg.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    assert describe([], [], None, "") == "Inga perioder att visa."


def test_ticks_and_numbers():
    assert ticks(70.5, 90) == [70, 75, 80, 85, 90]
    assert ticks(5, 5)[0] <= 4 and ticks(5, 5)[-1] >= 6
    assert ticks(0, 0.3)[-1] >= 0.3
    assert number(83.08) == "83,1" and number(85.0) == "85" and number(-2.5) == "−2,5"
