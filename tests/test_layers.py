"""The layers of docs/architecture.md, kept by a test over every module's imports.

Bottom to top: the core (errors, records, interfaces, the plugin manager, and the data helpers
beside them), ``answers/``, ``students/``; then the stages (teachers, selection, training,
scaling, evaluation), which never import one another, the package root, the demo, the CLI or
``testing``; then the face (the package root, the CLI, the demo, ``testing``), which may use
anything. Every import counts: function-level ones (a lazy import is still a dependency) and
``TYPE_CHECKING`` ones. The test fails naming the file, the line and the rule.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyreason"

STAGES = ("teachers", "selection", "training", "scaling", "evaluation")
FACE = ("__init__", "__main__", "cli", "demo", "testing", "lm_eval")
# The core, in order: each may import only those before it (and the standard library).
CORE_ORDER = ("errors", "_secrets", "_artifact_manifest", "artifacts", "records", "interfaces")
# The rest of the core (the plugin manager and the data helpers) may import the ordered core.
CORE_REST = (
    "hookspecs",
    "registry",
    "builtins",
    "_async",
    "data",
    "_data_schema",
    "trace_columns",
    "options",
    "hub",
    "_lazy",
    "_plugin_info",
)
LOWER = ("answers", "students")

# Breaks still to mend, each with the reason it is allowed for now. The list only shrinks: an
# entry that no longer occurs fails the test too.
KNOWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    """One import: who, where, of what."""

    source: str
    line: int
    target: str
    path: Path


def unit(module: str) -> str:
    """The layer unit of a module: ``tinyreason.scaling.common`` -> ``scaling``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> tuple[str, str]:
    """A file's module name and the package its relative imports start from."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        name = ".".join(parts[:-1])
        return name, name
    name = ".".join(parts)
    return name, name.rsplit(".", 1)[0]


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def imports(path: Path, text: str | None = None) -> list[Edge]:
    """Every tinyreason import in a file (or in ``text`` as if it were that file), resolved."""
    name, package = _module_name(path)
    edges = []
    source = path.read_text() if text is None else text
    for node in ast.walk(ast.parse(source, str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from .. import student` imports the package root; `from . import x` a submodule.
            subs = [f"{module}.{a.name}" for a in node.names if _is_module(f"{module}.{a.name}")]
            targets = subs or [module]
        edges += [Edge(name, node.lineno, t, path) for t in targets if t.startswith("tinyreason")]
    return edges


def rule_broken(edge: Edge) -> str | None:
    """The rule an import breaks, or None."""
    src, dst = unit(edge.source), unit(edge.target)
    if src == dst and src not in CORE_ORDER:
        return None
    if src in FACE:
        return None
    if src in CORE_ORDER:
        allowed = CORE_ORDER[: CORE_ORDER.index(src) + 1]
        if dst not in allowed:
            return f"the core module {src} may import only {', '.join(allowed)}"
        return None
    if src in CORE_REST:
        if dst in CORE_ORDER or dst in CORE_REST:
            return None
        return f"the core ({src}) may not import {dst}, which sits above it"
    if src in LOWER:
        below = CORE_ORDER + CORE_REST + LOWER[: LOWER.index(src)]
        return None if dst in below else f"{src} may import only the core and the layers below"
    if src in STAGES:
        if dst in STAGES:
            return (
                f"stage {src} imports stage {dst}: stages meet through records or build each "
                "other's plugins through the plugin manager by name"
            )
        if dst in FACE:
            return f"stage {src} imports {dst} (the package root, the CLI, the demo or testing)"
        return None
    return f"{edge.source} is in no layer: add it to docs/architecture.md and this test"


def all_imports() -> list[Edge]:
    return [edge for path in sorted(SRC.rglob("*.py")) for edge in imports(path)]


def breaks(edges: list[Edge]) -> list[tuple[Edge, str]]:
    found = []
    for edge in edges:
        rule = rule_broken(edge)
        if rule is not None and (edge.source, edge.target) not in KNOWN:
            found.append((edge, rule))
    return found


def report(found: list[tuple[Edge, str]]) -> str:
    return "\n".join(
        f"{e.path.relative_to(SRC.parent.parent)}:{e.line}: imports {e.target}: {rule}"
        for e, rule in found
    )


def test_every_import_keeps_the_layers() -> None:
    found = breaks(all_imports())
    assert not found, "imports that break the layers:\n" + report(found)


def test_the_known_breaks_still_exist() -> None:
    """The allow-list only shrinks: mend the import, then delete its entry."""
    pairs = {(e.source, e.target) for e in all_imports()}
    assert not (set(KNOWN) - pairs), f"entries that no longer occur: {set(KNOWN) - pairs}"


def test_the_core_is_self_contained() -> None:
    """records and interfaces import nothing above them, not even for type checkers."""
    for edge in all_imports():
        if unit(edge.source) in ("records", "interfaces"):
            assert unit(edge.target) in CORE_ORDER, f"{edge.source}:{edge.line} {edge.target}"


@pytest.mark.parametrize(
    ("where", "code", "rule"),
    [
        ("scaling/_x.py", "from ..selection.base import Selection\n", "stage scaling imports"),
        ("evaluation/_x.py", "def f():\n    from ..training import base\n", "stage evaluation"),
        ("selection/_x.py", "import tinyreason as tr\n", "the package root"),
        ("teachers/_x.py", "from .. import chat_format\n", "the package root"),
        (
            "records/_x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..scaling import x\n",
            "the core module records",
        ),
        ("interfaces_x.py", "from .registry import build\n", "in no layer"),
        ("answers/_x.py", "from ..students import formats\n", "answers may import only"),
    ],
)
def test_the_test_catches_each_kind_of_break(where: str, code: str, rule: str) -> None:
    """A deliberate break of each kind, planted as a module in the tree, is caught and named."""
    file = SRC / where
    found = breaks(imports(file, code))
    assert found and rule in report(found), report(found)
    assert f"{where}:" in report(found).replace("src/tinyreason/", "")


def test_no_import_cycles_at_module_level() -> None:
    """Module-level imports form no cycle (a lazy import inside a function may close one)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        name, _ = _module_name(path)
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        graph[name] = {e.target for n in top for e in imports(path, ast.unparse(n))}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph[module] & graph.keys()):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
