"""The layout shows the architecture (docs/architecture.md, "Layout"): each package imports only
from the packages above it in LAYERS, and no module imports, directly or through others, a
module that imports it back. Deferred imports (inside functions) count too."""

from __future__ import annotations

import ast
from pathlib import Path

KFLOW = Path(__file__).resolve().parents[2] / "kflow"
# Lowest first. A module may import from its own layer and the ones before it.
LAYERS: list[tuple[str, ...]] = [
    (
        "kflow.config",
        "kflow.errors",
        "kflow.db",
        "kflow.transient",
        "kflow.calendar",
        "kflow.paging",
        "kflow.listparams",
        "kflow.statements",
        "kflow.runtime",
    ),
    ("kflow.org",),
    ("kflow.states",),
    ("kflow.accounts",),
    ("kflow.cases",),
    ("kflow.mailing",),
    ("kflow.engine",),
    ("kflow.documents",),
    ("kflow.followup",),
    ("kflow.queries",),
    ("kflow.schema",),
    ("kflow.jobs",),
    ("kflow.web",),
    ("kflow.tools",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(KFLOW.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """The kflow modules ``path`` imports (``from a import b``: ``a.b`` if it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module in known:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & known
            # ``from package import module`` uses the module; the package only if a name of
            # its own is imported too.
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in KFLOW.rglob("*.py")}
    known = set(paths)
    return {name: imports(path, known) - {name} for name, path in paths.items()}


def layer(name: str) -> int | None:
    found = None
    for index, group in enumerate(LAYERS):
        if any(name == g or name.startswith(g + ".") for g in group):
            found = index
    return found


def test_every_module_has_a_layer() -> None:
    missing = [m for m in graph() if m != "kflow" and layer(m) is None]
    assert not missing, f"place these in LAYERS (and docs/architecture.md): {missing}"


def test_no_module_imports_from_a_layer_above_it() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(module) is not None and (layer(target) or 0) > (layer(module) or 0)
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circles() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not circles, circles
