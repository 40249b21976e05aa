"""Graph steps of the lifecycle diagram's layered layout (see kflow.web.ui.diagram).

Edges from the machine declaration, back edges turned around by a depth-first walk, layers by
longest path, orders by barycenter sweeps, and x positions pulled towards neighbours.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict

from kflow.states import CaseMachine

NOTE_MIN_SOURCES = 4  # a trigger fired from this many states or more becomes a note
GAP_X = 36.0
ALIGN_WITHIN = 24.0  # a state this close to the x of its only state above lines up with it


@dataclasses.dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    label: str
    auto: bool


@dataclasses.dataclass(frozen=True)
class Note:
    label: str
    dest: str
    sources: tuple[str, ...]
    auto: bool


@dataclasses.dataclass
class Item:
    key: str
    state: str | None  # None for a bend point
    layer: int
    left: float
    right: float
    x: float = 0.0


def edges_and_notes(machine: CaseMachine) -> tuple[list[Edge], dict[str, list[str]], list[Note]]:
    """The drawn edges (merged per state pair), self-loops per state, and the notes."""
    merged: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    loops: dict[str, list[str]] = defaultdict(list)
    notes: list[Note] = []
    for spec in machine.triggers.values():
        auto = spec.auto and not spec.manual
        if len(spec.sources) >= NOTE_MIN_SOURCES:
            for sources, dest in spec.moves:
                notes.append(Note(spec.label, str(dest), tuple(sources), auto))
            continue
        for sources, dest in spec.moves:
            for source in sources:
                target = dest or source
                if target == source:
                    loops[source].append(spec.label)
                else:
                    merged.setdefault((source, target), []).append((spec.label, auto))
    edges = [
        Edge(s, d, " / ".join(label for label, _ in found), all(a for _, a in found))
        for (s, d), found in merged.items()
    ]
    return edges, loops, notes


def reversed_edges(states: list[str], initial: str, edges: list[Edge]) -> set[int]:
    """Edges closing a cycle in a depth-first walk from the initial state."""
    out: dict[str, list[int]] = defaultdict(list)
    for index, edge in enumerate(edges):
        out[edge.source].append(index)
    colour: dict[str, int] = {}  # 1: on the walk's stack, 2: done
    back: set[int] = set()

    def visit(state: str) -> None:
        colour[state] = 1
        for index in out[state]:
            dest = edges[index].dest
            if colour.get(dest) == 1:
                back.add(index)
            elif dest not in colour:
                visit(dest)
        colour[state] = 2

    visit(initial)
    for state in states:
        if state not in colour and out[state]:
            visit(state)
    return back


def layers(states: list[str], dag: list[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = defaultdict(list)
    for upper, lower in dag:
        preds[lower].append(upper)
    layer: dict[str, int] = {}

    def depth(state: str) -> int:
        if state not in layer:
            layer[state] = 1 + max((depth(p) for p in preds[state]), default=-1)
        return layer[state]

    connected = {s for pair in dag for s in pair}
    for state in states:
        if state in connected:
            depth(state)
    last = max(layer.values(), default=0)
    for state in states:
        layer.setdefault(state, last)
    return layer


def _crossings(order: list[list[str]], links: list[tuple[str, str]], pos: dict[str, int]) -> int:
    total = 0
    for i, (a, b) in enumerate(links):
        for c, d in links[i + 1 :]:
            if (pos[a] - pos[c]) * (pos[b] - pos[d]) < 0:
                total += 1
    return total


def order_layers(order: list[list[str]], links: list[tuple[str, str]]) -> list[list[str]]:
    """Barycenter sweeps down and up; keeps the ordering with the fewest crossings."""
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for a, b in links:
        down[a].append(b)
        up[b].append(a)

    def positions(current: list[list[str]]) -> dict[str, int]:
        return {key: i for layer in current for i, key in enumerate(layer)}

    best = [list(layer) for layer in order]
    best_score = _crossings(best, links, positions(best))
    current = [list(layer) for layer in order]
    for sweep in range(8):
        downward = sweep % 2 == 0
        indices = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for index in indices:
            pos = positions(current)
            neighbours = up if downward else down

            def bary(key: str, pos: dict[str, int] = pos, neighbours: dict = neighbours) -> float:
                found = neighbours[key]
                return sum(pos[n] for n in found) / len(found) if found else pos[key]

            current[index] = sorted(current[index], key=bary)
        score = _crossings(current, links, positions(current))
        if score < best_score:
            best, best_score = [list(layer) for layer in current], score
    return best


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for value in values:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            prev = blocks[-1]
            prev[0] = (prev[0] * prev[1] + mean * count) / (prev[1] + count)
            prev[1] += count
    out: list[float] = []
    for mean, count in blocks:
        out.extend([mean] * int(count))
    return out


def place_x(order: list[list[str]], items: dict[str, Item], links: list[tuple[str, str]]) -> None:
    neighbours: dict[str, list[str]] = defaultdict(list)
    for a, b in links:
        neighbours[a].append(b)
        neighbours[b].append(a)
    for layer in order:
        x = 0.0
        for i, key in enumerate(layer):
            if i:
                x += items[layer[i - 1]].right + GAP_X + items[key].left
            items[key].x = x
    for _ in range(24):
        for layer in order:
            # Minimal offsets between consecutive items, so x_i - offset_i must not decrease.
            offsets = [0.0]
            for prev, key in itertools.pairwise(layer):
                offsets.append(offsets[-1] + items[prev].right + GAP_X + items[key].left)
            wanted = []
            for key, offset in zip(layer, offsets, strict=True):
                near = neighbours[key]
                target = sum(items[n].x for n in near) / len(near) if near else items[key].x
                wanted.append(target - offset)
            for key, base, offset in zip(layer, _isotonic(wanted), offsets, strict=True):
                items[key].x = base + offset
    _straighten(order, items, links)
    linked = {key for link in links for key in link}
    for layer in order:  # states without drawn edges sit right next to their neighbour
        for i, key in enumerate(layer):
            if i and key not in linked:
                before = items[layer[i - 1]]
                items[key].x = before.x + before.right + GAP_X + items[key].left


def _straighten(
    order: list[list[str]], items: dict[str, Item], links: list[tuple[str, str]]
) -> None:
    """Line a state up with its only state above when they are nearly aligned already."""
    above: dict[str, set[str]] = defaultdict(set)
    for a, b in links:
        above[b].add(a)
    for layer in order[1:]:
        for i, key in enumerate(layer):
            ups = above[key]
            if items[key].state is None or len(ups) != 1:
                continue
            (up,) = ups
            target = items[up].x
            if items[up].state is None or abs(target - items[key].x) > ALIGN_WITHIN:
                continue
            if (
                i
                and target - items[key].left
                < items[layer[i - 1]].x + items[layer[i - 1]].right + GAP_X
            ):
                continue
            if i + 1 < len(layer) and target + items[key].right > (
                items[layer[i + 1]].x - items[layer[i + 1]].left - GAP_X
            ):
                continue
            items[key].x = target
