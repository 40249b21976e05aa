"""The lifecycle diagram's geometry: where each state, edge and label goes (computed once)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections import defaultdict

from kflow.states import MACHINES
from kflow.web.ui.diagram_graph import (
    Item,
    Note,
    edges_and_notes,
    layers,
    order_layers,
    place_x,
    reversed_edges,
)

NODE_W, NODE_H = 200.0, 54.0
DUMMY_W = 14.0
LABEL_ROW = 22.0
MIN_GAP_Y = 58.0
MARGIN = 16.0
TOP = 56.0  # room for the start marker above the initial state
CHAR_W = 7.0  # average glyph width at the 13px label size
WRAP = 22  # characters per line inside a state box
LOOP_W = 34.0
LABEL_PAD = 5.0


@dataclasses.dataclass(frozen=True)
class PlacedEdge:
    path: str
    label: str
    label_x: float
    label_y: float
    auto: bool
    anchor: str  # "start" (text right of the line) or "end" (left of it)

    @property
    def extent(self) -> tuple[float, float]:
        width = _label_width(self.label)
        if self.anchor == "start":
            return self.label_x, self.label_x + width
        return self.label_x - width, self.label_x


@dataclasses.dataclass(frozen=True)
class PlacedNode:
    state: str
    x: float  # centre
    y: float  # top
    lines: tuple[str, ...]
    final: bool
    initial: bool
    loop_label: str | None


@dataclasses.dataclass(frozen=True)
class Layout:
    case_type: str
    title: str
    width: float
    height: float
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    notes: tuple[Note, ...]
    state_labels: dict[str, str]


def _wrap(text: str) -> tuple[str, ...]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= WRAP:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines) or ("",)


def _bezier(p0: tuple[float, float], p1: tuple[float, float], t: float) -> tuple[float, float]:
    """A point on the vertical-tangent cubic from p0 to p1."""
    (x0, y0), (x1, y1) = p0, p1
    ym = (y0 + y1) / 2
    u = 1 - t
    x = u**3 * x0 + 3 * u * u * t * x0 + 3 * u * t * t * x1 + t**3 * x1
    y = u**3 * y0 + 3 * u * u * t * ym + 3 * u * t * t * ym + t**3 * y1
    return x, y


def _at_y(p0: tuple[float, float], p1: tuple[float, float], y: float) -> float:
    lo, hi = 0.0, 1.0
    rising = p1[1] > p0[1]
    for _ in range(40):
        mid = (lo + hi) / 2
        if (_bezier(p0, p1, mid)[1] < y) == rising:
            lo = mid
        else:
            hi = mid
    return _bezier(p0, p1, (lo + hi) / 2)[0]


def _label_width(text: str) -> float:
    return len(text) * CHAR_W + 8


@functools.cache
def layout(case_type: str) -> Layout:
    machine = MACHINES[case_type]
    states = [s.value for s in machine.states]
    edges, loops, notes = edges_and_notes(machine)
    back = reversed_edges(states, machine.initial, edges)
    # Each edge as a downward chain (upper state, lower state).
    chains = [(e.dest, e.source) if i in back else (e.source, e.dest) for i, e in enumerate(edges)]
    layer_of = layers(states, chains)
    n_layers = max(layer_of.values()) + 1
    items: dict[str, Item] = {}
    order: list[list[str]] = [[] for _ in range(n_layers)]
    for state in states:
        loop = loops.get(state)
        right = NODE_W / 2 + (LOOP_W + _label_width(" / ".join(loop)) if loop else 0)
        items[state] = Item(state, state, layer_of[state], NODE_W / 2, right)
    for state in sorted(states, key=lambda s: (layer_of[s], states.index(s))):
        order[layer_of[state]].append(state)
    points: list[list[str]] = []  # per edge: item keys from upper to lower
    links: list[tuple[str, str]] = []
    for index, (upper, lower) in enumerate(chains):
        keys = [upper]
        for layer in range(layer_of[upper] + 1, layer_of[lower]):
            key = f"~{index}:{layer}"
            items[key] = Item(key, None, layer, DUMMY_W / 2, DUMMY_W / 2)
            order[layer].append(key)
            keys.append(key)
        keys.append(lower)
        points.append(keys)
        links.extend(itertools.pairwise(keys))
    order = order_layers(order, links)
    place_x(order, items, links)

    # Labels: each on its edge's first stretch from the source, one row each per gap.
    per_gap: dict[int, list[int]] = defaultdict(list)
    for index in range(len(points)):
        first_layer = layer_of[edges[index].source]
        gap = first_layer if index not in back else first_layer - 1
        per_gap[gap].append(index)
    gap_h = [max(MIN_GAP_Y, LABEL_ROW * len(per_gap.get(g, [])) + 30) for g in range(n_layers - 1)]
    tops = [TOP]
    for g in range(n_layers - 1):
        tops.append(tops[-1] + NODE_H + gap_h[g])

    # Ports: spread the edge ends along each state's top and bottom.
    ends: dict[tuple[str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for index, keys in enumerate(points):
        ends[(keys[0], "bottom")].append((items[keys[1]].x, index, 0))
        ends[(keys[-1], "top")].append((items[keys[-2]].x, index, len(keys) - 1))
    port: dict[tuple[int, int], float] = {}
    for (key, _side), found in ends.items():
        found.sort()
        spread = NODE_W * 0.6
        for rank, (_x, index, pos) in enumerate(found):
            offset = 0.0 if len(found) == 1 else -spread / 2 + spread * rank / (len(found) - 1)
            port[(index, pos)] = items[key].x + offset

    def route(index: int) -> list[tuple[float, float]]:
        """Upper state's bottom, straight down through each bend layer, lower state's top."""
        keys = points[index]
        upper, lower = items[keys[0]], items[keys[-1]]
        out = [(port[(index, 0)], tops[upper.layer] + NODE_H)]
        for key in keys[1:-1]:
            bend = items[key]
            out += [(bend.x, tops[bend.layer]), (bend.x, tops[bend.layer] + NODE_H)]
        out.append((port[(index, len(keys) - 1)], tops[lower.layer]))
        return out

    placed_edges: list[PlacedEdge] = []
    for gap, indices in per_gap.items():
        ordered = sorted(indices, key=lambda i: items[points[i][0]].x)
        for row, index in enumerate(ordered):
            path_points = route(index)
            if index in back:
                path_points.reverse()
            d = [f"M{path_points[0][0]:.1f},{path_points[0][1]:.1f}"]
            for a, b in itertools.pairwise(path_points):
                ym = (a[1] + b[1]) / 2
                d.append(f"C{a[0]:.1f},{ym:.1f} {b[0]:.1f},{ym:.1f} {b[0]:.1f},{b[1]:.1f}")
            gap_top = tops[gap] + NODE_H
            spare = (gap_h[gap] - 30 - LABEL_ROW * len(ordered)) / 2
            label_y = gap_top + 15 + spare + row * LABEL_ROW + LABEL_ROW / 2 + 4
            # Text goes on the outer side of where the edge leaves its state (or, leaving from
            # the middle, the side the line leans to), clear of its own line over the text's height.
            (x0, y0), (x1, y1) = path_points[0], path_points[1]
            offset = x0 - items[edges[index].source].x
            leans_right = offset > 0 or (offset == 0 and (x1 - x0) * (y1 - y0) >= 0)
            near = [_at_y(path_points[0], path_points[1], label_y - h) for h in (0, 6, 13)]
            label_x = max(near) + LABEL_PAD if leans_right else min(near) - LABEL_PAD
            placed_edges.append(
                PlacedEdge(
                    " ".join(d),
                    edges[index].label,
                    label_x,
                    label_y,
                    edges[index].auto,
                    "start" if leans_right else "end",
                )
            )

    nodes = tuple(
        PlacedNode(
            state,
            items[state].x,
            tops[layer_of[state]],
            _wrap(machine.state_label(state)),
            state in machine.final,
            state == machine.initial,
            " / ".join(loops[state]) if state in loops else None,
        )
        for state in states
    )
    # Shift everything right of the margin, including labels that stick out to the left.
    lefts = [n.x - NODE_W / 2 for n in nodes]
    lefts += [e.extent[0] for e in placed_edges]
    rights = [items[n.state].x + items[n.state].right for n in nodes]
    rights += [e.extent[1] for e in placed_edges]
    shift = MARGIN - min(lefts)
    width = max(rights) + shift + MARGIN
    height = tops[-1] + NODE_H + MARGIN
    return Layout(
        case_type,
        machine.label,
        round(width),
        round(height),
        tuple(dataclasses.replace(n, x=n.x + shift) for n in nodes),
        tuple(
            dataclasses.replace(e, path=_shift_path(e.path, shift), label_x=e.label_x + shift)
            for e in placed_edges
        ),
        tuple(notes),
        dict(machine.state_labels),
    )


def _shift_path(path: str, dx: float) -> str:
    out = []
    for token in path.split(" "):
        command = token[0] if token[0].isalpha() else ""
        x, y = token[len(command) :].split(",")
        out.append(f"{command}{float(x) + dx:.1f},{y}")
    return " ".join(out)
