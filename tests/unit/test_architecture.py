"""The shape of the code: dependencies point inward and nothing imports in a circle.

deploy -> flows -> tasks -> {bootstrap, reports} -> notifications -> psa -> states. Every import
counts, also one inside a function (it still ties the modules together), except those under
`if TYPE_CHECKING:`, which never run.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("states", "psa", "notifications", "reports", "bootstrap", "tasks", "flows", "deploy")
# what each package may import besides itself
MAY_IMPORT = {
    "states": set(),
    "psa": {"states"},
    "notifications": {"states", "psa"},
    "reports": {"states", "notifications"},
    "bootstrap": {"states", "notifications"},
    "tasks": {"states", "psa", "notifications", "reports", "bootstrap"},
    "flows": {"states", "psa", "notifications", "reports", "bootstrap", "tasks"},
    "deploy": {"states", "psa", "notifications", "reports", "bootstrap", "tasks", "flows"},
}
WITHOUT_PREFECT = ("states", "psa", "notifications", "reports", "bootstrap")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(tree: ast.AST, importer: str) -> set[str]:
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importer's package
                package = importer.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


@cache
def graph() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports."""
    known = modules()
    edges = {}
    for name, path in known.items():
        imported = _imported(ast.parse(path.read_text(), str(path)), name)
        edges[name] = {m for m in imported if m in known and m != name}
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _package_graph() -> dict[str, set[str]]:
    """The module graph folded onto the top-level packages."""
    folded: dict[str, set[str]] = {}
    for module, targets in graph().items():
        folded.setdefault(module.split(".")[0], set()).update(t.split(".")[0] for t in targets)
    return {p: targets - {p} for p, targets in folded.items()}


def test_the_graph_sees_every_module() -> None:
    assert "states.lifecycle.machine" in graph()
    assert "states.lifecycle.machine" in graph()["states.lifecycle.decisions"]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_lies_inward(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in allowed
    )
    assert wrong == []


@pytest.mark.parametrize("package", WITHOUT_PREFECT)
def test_the_inner_packages_run_without_prefect(package: str) -> None:
    wrong = sorted(
        name
        for name, path in modules().items()
        if name.split(".")[0] == package
        and any(m.split(".")[0] == "prefect" for m in _imported(ast.parse(path.read_text()), name))
    )
    assert wrong == []


def test_no_module_imports_in_a_circle() -> None:
    assert _circles(graph()) == []


def test_no_package_imports_in_a_circle() -> None:
    assert _circles(_package_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(edges) == [["a", "b", "c"]]
