"""The layers depend one way: helpers (the library) never import manifests, fixtures, suites,
the simulator or pytest; manifests may use helpers; and within helpers and manifests no
module imports another that imports it back, directly or not (function-level imports
included: a late import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("helpers", "manifests")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str | None = None) -> set[str]:
    """Every module `path` imports, at any depth of its code (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    out: set[str] = set()
    if package is None:
        package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], base]).strip(".")
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    return {m: {i for i in imports(p) if i in files and i != m} for m, p in files.items()}


def test_helpers_import_nothing_above_them():
    above = ("manifests", "fixtures", "suites", "simulator", "promotion", "ci", "pytest", "_pytest")
    bad = {m: sorted(i for i in imports(p) if i.split(".")[0] in above)
           for m, p in ((_module(p), p) for p in (ROOT / "helpers").rglob("*.py"))}
    assert {m: i for m, i in bad.items() if i} == {}


def find_loops(g: dict[str, set[str]]) -> list[list[str]]:
    loops: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                loops.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return loops


def test_no_import_loops_in_helpers_and_manifests():
    assert find_loops(graph()) == []


def test_the_checks_see_late_imports_and_loops(tmp_path):
    """Attack: a loop hidden behind a function-level import is still found."""
    late = tmp_path / "late.py"
    late.write_text("import os\n\ndef f():\n    from manifests.generate import generate\n    return generate\n")
    assert "manifests.generate" in imports(late, "helpers")
    typed = tmp_path / "typed.py"
    typed.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from helpers.cf import X\n")
    assert "helpers.cf" not in imports(typed, "helpers")
    assert find_loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
