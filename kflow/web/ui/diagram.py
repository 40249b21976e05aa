"""A case machine's lifecycle drawn as SVG on the server: no JavaScript, no CDN.

The layout is a small layered ("Sugiyama") drawing, computed once per machine and cached:

1. Edges are the machine's (source, destination) pairs labelled with the triggers' Swedish
   labels. A trigger fired from many states ("Avbryt", "Ompröva ny version") would cover the
   drawing with arrows, so it becomes a note listed under the drawing instead.
2. A depth-first walk from the initial state turns back edges around, leaving an acyclic graph.
3. A state's layer is its longest path from the initial state (layers run top to bottom);
   states reached only through notes share the last layer.
4. An edge spanning several layers gets a bend point in each layer it crosses, so it routes
   beside the states it passes instead of through them. A few barycenter sweeps order each
   layer; x positions pull every item towards its neighbours' mean while keeping a gap.
5. Every edge's label sits on the edge's first stretch, each in a row of its own within the
   gap between two layers, so labels never overlap each other.

Only ``render`` depends on the current state: it marks it with colour, a thick border and the
words "Nuvarande läge".
"""

from __future__ import annotations

from markupsafe import Markup, escape

from kflow.states import MACHINES, CaseMachine
from kflow.web.ui.diagram_layout import LOOP_W, NODE_H, NODE_W, Layout, PlacedNode, layout

__all__ = ["NODE_H", "NODE_W", "Layout", "describe", "layout", "note_texts", "render"]


def render(case_type: str, current: str | None = None) -> Markup:
    """The diagram as inline SVG markup, ``current`` highlighted."""
    plan = layout(case_type)
    labels = plan.state_labels
    current_label = labels.get(current or "", "")
    desc = f"{plan.title}: {len(plan.nodes)} lägen."
    if current_label:
        desc += f" Nuvarande läge: {current_label}."
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" role="img" '
        f'width="{plan.width:.0f}" height="{plan.height:.0f}" '
        f'viewBox="0 0 {plan.width:.0f} {plan.height:.0f}" '
        f'aria-labelledby="diagram-title diagram-desc">',
        f'<title id="diagram-title">Livscykel: {escape(plan.title)}</title>',
        f'<desc id="diagram-desc">{escape(desc)}</desc>',
        "<defs>"
        '<marker id="dg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="dg-arrowhead" fill="#3d4451"/></marker>'
        "</defs>",
    ]
    for edge in plan.edges:
        dash = ' stroke-dasharray="6 4"' if edge.auto else ""
        klass = "dg-edge dg-auto" if edge.auto else "dg-edge"
        parts.append(
            f'<path class="{klass}" d="{edge.path}" fill="none" stroke="#3d4451" '
            f'stroke-width="1.5"{dash} marker-end="url(#dg-arrow)"/>'
        )
    for node in plan.nodes:
        parts.append(_node(node, node.state == current))
    for edge in plan.edges:
        parts.append(
            f'<text class="dg-label" x="{edge.label_x:.1f}" y="{edge.label_y:.1f}" '
            f'text-anchor="{edge.anchor}" font-size="13" fill="#1b1f24" stroke="#ffffff" '
            f'stroke-width="4" paint-order="stroke">{escape(edge.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def _node(node: PlacedNode, current: bool) -> str:
    x0, y0 = node.x - NODE_W / 2, node.y
    klass = "dg-state dg-current" if current else "dg-state"
    if node.final:
        klass += " dg-final"
    fill, stroke, width = ("#fff1b8", "#6b4400", 4) if current else ("#ffffff", "#3d4451", 1.5)
    out = [f'<g class="{klass}" data-state="{escape(node.state)}">']
    if node.initial:
        out.append(
            f'<circle class="dg-start" cx="{node.x:.1f}" cy="{y0 - 36:.1f}" r="7" fill="#3d4451"/>'
            f'<path class="dg-edge" d="M{node.x:.1f},{y0 - 29:.1f} L{node.x:.1f},{y0 - 2:.1f}" '
            f'stroke="#3d4451" stroke-width="1.5" marker-end="url(#dg-arrow)"/>'
        )
    out.append(
        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{NODE_W:.0f}" height="{NODE_H:.0f}" rx="8" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
    )
    if node.final:
        out.append(
            f'<rect class="dg-inner" x="{x0 + 4:.1f}" y="{y0 + 4:.1f}" width="{NODE_W - 8:.0f}" '
            f'height="{NODE_H - 8:.0f}" rx="5" fill="none" stroke="{stroke}" stroke-width="1"/>'
        )
    lines = list(node.lines)
    if current:
        lines.append("Nuvarande läge")
    first = y0 + NODE_H / 2 - (len(lines) - 1) * 8 + 5
    for i, line in enumerate(lines):
        bold = ' font-weight="700"' if current and i == len(lines) - 1 else ""
        klass_line = ' class="dg-now"' if current and i == len(lines) - 1 else ""
        out.append(
            f'<text{klass_line} x="{node.x:.1f}" y="{first + 16 * i:.1f}" text-anchor="middle" '
            f'font-size="14" fill="#1b1f24"{bold}>{escape(line)}</text>'
        )
    if node.loop_label:
        rx = node.x + NODE_W / 2
        cy = y0 + NODE_H / 2
        out.append(
            f'<path class="dg-edge" d="M{rx:.1f},{cy - 10:.1f} C{rx + LOOP_W:.1f},{cy - 30:.1f} '
            f'{rx + LOOP_W:.1f},{cy + 30:.1f} {rx + 1:.1f},{cy + 10:.1f}" fill="none" '
            f'stroke="#3d4451" stroke-width="1.5" marker-end="url(#dg-arrow)"/>'
            f'<text class="dg-label" x="{rx + LOOP_W + 4:.1f}" y="{cy + 4:.1f}" font-size="13" '
            f'fill="#1b1f24" stroke="#ffffff" stroke-width="4" paint-order="stroke">'
            f"{escape(node.loop_label)}</text>"
        )
    out.append("</g>")
    return "".join(out)


def _state_list(machine: CaseMachine, sources: tuple[str, ...]) -> str:
    others = [s for s in machine.state_labels if s not in sources]
    if len(sources) > len(others) and others:
        return "från alla lägen utom " + ", ".join(machine.state_label(s) for s in others)
    return "från " + ", ".join(machine.state_label(s) for s in sources)


def note_texts(case_type: str) -> list[str]:
    """The triggers drawn as notes, in words: "Avbryt → Avbruten: från alla lägen utom …"."""
    machine = MACHINES[case_type]
    return [
        f"{note.label} → {machine.state_label(note.dest)}"
        f"{' (automatiskt)' if note.auto else ''}: {_state_list(machine, note.sources)}."
        for note in layout(case_type).notes
    ]


def describe(case_type: str) -> list[str]:
    """Every transition in words, for readers who cannot see the drawing."""
    machine = MACHINES[case_type]
    lines = []
    for spec in machine.triggers.values():
        for sources, dest in spec.moves:
            target = "samma läge" if dest is None else machine.state_label(dest)
            auto = " (automatiskt)" if spec.auto and not spec.manual else ""
            lines.append(f"{spec.label}{auto}: {_state_list(machine, sources)} → {target}.")
    return lines
