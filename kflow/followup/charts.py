"""Line charts drawn on the server as plain SVG (lifecycle.md §6.5): a line per region or unit
over the periods, the target as a dashed line, axes with labels.

No script, no style element, no style attribute: only presentation attributes, which the
strict Content-Security-Policy (``default-src 'none'``) leaves alone, so the chart can be
inlined in the page. It is an image for assistive technology (``role="img"``, with a
``<title>`` and a ``<desc>`` that says what it shows); the page puts the same numbers in a
table beside it. Lines differ by colour, dash pattern and marker shape, never by colour alone.
Pure: series in, SVG text out; every text is escaped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from markupsafe import escape

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), dash patterns and markers.
COLOURS = ("#1f5fa8", "#b3261e", "#2e7d32", "#6a1b9a", "#8a5a00", "#00695c", "#ad1457", "#37474f")
DASHES = ("", "8 4", "2 3", "10 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
WIDTH, PLOT_H = 640, 240
LEFT, RIGHT, TOP = 60, 20, 16
LEGEND_ROW = 22


@dataclasses.dataclass(frozen=True)
class Line:
    """One line: its label and a value per period (None: no value, a gap in the line)."""

    label: str
    values: Sequence[float | None]


def number(value: float) -> str:
    """A number as Swedes write it: a decimal comma, at most one decimal."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",").replace("-", "−")


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high`` (about ``count`` of them)."""
    if math.isclose(low, high):
        low, high = low - 1, high + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    out = []
    value = first
    while value < high + step * 0.5:
        out.append(round(value, 10))
        value += step
    return out


def line_chart(
    *,
    chart_id: str,
    title: str,
    periods: Sequence[str],
    lines: Sequence[Line],
    target: float | None = None,
    unit: str = "",
) -> str:
    """The chart as an ``<svg>`` element. ``chart_id`` makes its element ids unique on the page."""
    values = [v for line in lines for v in line.values if v is not None]
    known = values + ([target] if target is not None else [])
    scale = ticks(min(known, default=0.0), max(known, default=1.0))
    low, high = scale[0], scale[-1]
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(len(periods) - 1, 1)
    rotate = len(periods) > 6
    axis_h = 58 if rotate else 36
    legend_items = [*lines, *([Line("Målvärde", [])] if target is not None else [])]
    per_row = 2
    legend_h = LEGEND_ROW * math.ceil(len(legend_items) / per_row) + 8
    height = TOP + PLOT_H + axis_h + legend_h

    def x(index: int) -> float:
        return LEFT + (index * step if len(periods) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + PLOT_H - (value - low) / (high - low) * PLOT_H

    ident = escape(chart_id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{ident}-t {ident}-d">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(describe(periods, lines, target, unit))}</desc>',
    ]
    for tick in scale:  # grid lines and the y axis' labels
        ty = y(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#d0d4da" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#1b1f24">{escape(number(tick))}</text>'
        )
    base = TOP + PLOT_H
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#3d4451"/>'
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}" stroke="#3d4451"/>'
    )
    if unit:
        out.append(
            f'<text x="14" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" font-size="12" '
            f'fill="#1b1f24" transform="rotate(-90 14 {TOP + PLOT_H / 2:.1f})">'
            f"{escape(unit)}</text>"
        )
    for index, period in enumerate(periods):
        px, py = x(index), base + 16
        turn = f' transform="rotate(-35 {px:.1f} {py})"' if rotate else ""
        anchor = "end" if rotate else "middle"
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{base}" y2="{base + 4}" stroke="#3d4451"/>'
            f'<text x="{px:.1f}" y="{py}" text-anchor="{anchor}" font-size="12" '
            f'fill="#1b1f24"{turn}>{escape(period)}</text>'
        )
    if target is not None:
        ty = y(target)
        out.append(
            f'<line class="chart-target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" '
            f'y2="{ty:.1f}" stroke="#1b1f24" stroke-width="2" stroke-dasharray="4 4"/>'
        )
    for n, line in enumerate(lines):
        colour, dash = COLOURS[n % len(COLOURS)], DASHES[n // len(COLOURS) % len(DASHES)]
        marker = MARKERS[n % len(MARKERS)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        for run in _runs(line.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            out.append(
                f'<polyline class="chart-line" points="{points}" fill="none" '
                f'stroke="{colour}" stroke-width="2.5"{dashed}/>'
            )
        for i, v in enumerate(line.values):
            if v is not None:
                out.append(_marker(marker, x(i), y(v), colour))
    legend_top = base + axis_h
    for n, item in enumerate(legend_items):
        lx = LEFT + (n % per_row) * (plot_w / per_row)
        ly = legend_top + (n // per_row) * LEGEND_ROW + 10
        if n < len(lines):
            colour = COLOURS[n % len(COLOURS)]
            dash = DASHES[n // len(COLOURS) % len(DASHES)]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            sample = (
                f'<line x1="{lx:.1f}" x2="{lx + 28:.1f}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                f'stroke-width="2.5"{dashed}/>'
                + _marker(MARKERS[n % len(MARKERS)], lx + 14, ly, colour)
            )
        else:
            sample = (
                f'<line x1="{lx:.1f}" x2="{lx + 28:.1f}" y1="{ly}" y2="{ly}" stroke="#1b1f24" '
                'stroke-width="2" stroke-dasharray="4 4"/>'
            )
        label = item.label if n < len(lines) else f"Målvärde {number(target or 0)}"
        out.append(
            f'{sample}<text x="{lx + 36:.1f}" y="{ly + 4}" font-size="12" fill="#1b1f24">'
            f"{escape(_short(label))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def describe(periods: Sequence[str], lines: Sequence[Line], target: float | None, unit: str) -> str:
    """The chart in words: what it covers and each line's latest value."""
    if not periods:
        return "Inga perioder att visa."
    span = periods[0] if len(periods) == 1 else f"{periods[0]} till {periods[-1]}"
    words = [f"Linjediagram, {len(lines)} linjer, perioderna {span}."]
    suffix = f" {unit}" if unit else ""
    for line in lines:
        latest = next(
            (
                (p, v)
                for p, v in reversed(list(zip(periods, line.values, strict=False)))
                if v is not None
            ),
            None,
        )
        if latest is None:
            words.append(f"{line.label}: inga värden.")
        else:
            words.append(f"{line.label}: senast {number(latest[1])}{suffix} ({latest[0]}).")
    if target is not None:
        words.append(f"Målvärdet {number(target)}{suffix} är en streckad linje.")
    words.append("Samma uppgifter finns i tabellen bredvid.")
    return " ".join(words)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive values, each a line of its own (a gap breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    return [run for run in runs if run]


def _marker(shape: str, cx: float, cy: float, colour: str) -> str:
    paint = f'fill="{colour}" stroke="#ffffff" stroke-width="1"'
    if shape == "square":
        return f'<rect x="{cx - 4.5:.1f}" y="{cy - 4.5:.1f}" width="9" height="9" {paint}/>'
    if shape == "triangle":
        pts = f"{cx:.1f},{cy - 6:.1f} {cx + 5.5:.1f},{cy + 4:.1f} {cx - 5.5:.1f},{cy + 4:.1f}"
        return f'<polygon points="{pts}" {paint}/>'
    if shape == "diamond":
        top, bottom = f"{cx:.1f},{cy - 6:.1f}", f"{cx:.1f},{cy + 6:.1f}"
        pts = f"{top} {cx + 6:.1f},{cy:.1f} {bottom} {cx - 6:.1f},{cy:.1f}"
        return f'<polygon points="{pts}" {paint}/>'
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" {paint}/>'


def _short(label: str, most: int = 34) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"
