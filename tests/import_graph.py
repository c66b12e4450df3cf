"""The project's import graph, read from the source (never by importing it), and its cycles.

Why a static reading: an import hidden inside a function, or under `if TYPE_CHECKING:`, is
invisible to anything that watches what Python imports at start-up, yet it is still a
two-way dependency between the two modules: one cannot be understood, tested or moved
without the other. So every import statement counts, wherever it stands in the module:

* `import a.b` and `from a import b` anywhere (module level, functions, classes, `try`,
  `if TYPE_CHECKING:`); TYPE_CHECKING-only imports count like the others (the simplest honest
  rule: a type annotation that names another module is a dependency on it);
* relative imports, resolved against the importing module's package;
* imports by name: the strings of a module's `pytest_plugins`, the literal argument of
  `importlib.import_module(...)` / `__import__(...)`, and, when that argument is computed at
  run time, every module of the tree that the importing file spells out in a string (the
  names it can have read them from: `simulator/assembly.py`'s list of parts);
* a name the tree does not define as a top-level module (`from harness import x` in
  tests/suite, a script's neighbour, `from fakes import ...` with tests/ on sys.path) is
  looked for next to the importer, then in each directory above it, nearest first.

What is not an edge: importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, but
that is Python's package initialisation, not a dependency the importer chose; counting it
would forbid every package `__init__` from importing its own modules (which is where each
part's `attach(world)` assembles them). `from a.b import name`, where `name` is not a
submodule, *is* an edge to `a.b` (its `__init__`), so a module that takes a name from its
own package's `__init__` while that `__init__` imports it is a cycle.

Imports of modules outside the tree (the standard library, installed packages) are ignored.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = {".venv", "venv", "artifacts", "build", "dist", "__pycache__", "node_modules"}


@dataclass(frozen=True)
class Edge:
    """One import statement: `source` imports `target` at `path:line`, inside `scope`."""

    source: str
    target: str
    path: str
    line: int
    scope: str  # "<module>", or the enclosing def/class, with " [TYPE_CHECKING]" when guarded

    def describe(self) -> str:
        return f"{self.source} -> {self.target}  ({self.path}:{self.line}, {self.scope})"


@dataclass
class ImportGraph:
    root: Path
    modules: dict[str, Path] = field(default_factory=dict)  # dotted name -> file
    edges: list[Edge] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path, include: Iterable[str] | None = None) -> ImportGraph:
        """Every `*.py` under `root` (or under the given top-level entries of it)."""
        graph = cls(root=root)
        entries = [root / entry for entry in include] if include is not None else [root]
        for entry in entries:
            files = [entry] if entry.is_file() else sorted(entry.rglob("*.py"))
            for path in files:
                rel = path.relative_to(root)
                if any(part in SKIPPED_DIRS or part.startswith(".") or part.endswith(".egg-info")
                       for part in rel.parts[:-1]):
                    continue
                graph.modules[module_name(rel)] = path
        for name, path in sorted(graph.modules.items()):
            graph.edges.extend(graph._edges_of(name, path))
        return graph

    # -- reading one module ---------------------------------------------------------------

    def _edges_of(self, name: str, path: Path) -> list[Edge]:
        rel = path.relative_to(self.root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        is_package = path.name == "__init__.py"
        found: list[Edge] = []
        seen: set[Edge] = set()
        named = [c for c in ast.walk(tree) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                 and c.value in self.modules]

        def add(target: str | None, node: ast.AST, scope: str) -> None:
            edge = Edge(name, target or "", rel, node.lineno, scope)
            if target is not None and target != name and edge not in seen:
                seen.add(edge)
                found.append(edge)

        def visit(node: ast.AST, scope: str) -> None:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                scope = node.name if scope == "<module>" else f"{scope}.{node.name}"
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    visit(child, f"{scope} [TYPE_CHECKING]")
                for child in node.orelse:
                    visit(child, scope)
                return
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(self._resolve_absolute(alias.name, path), node, scope)
            elif isinstance(node, ast.ImportFrom):
                base = self._base_of(node, name, is_package, path)
                if base is not None:
                    for alias in node.names:
                        add(self._resolve_from(base, alias.name), node, scope)
            elif isinstance(node, ast.Call) and _imports_by_name(node.func) and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    add(self._resolve_absolute(node.args[0].value, path), node, scope)
                else:  # a name computed at run time: any module this file spells out
                    for constant in named:
                        add(constant.value, node, f"{scope} [import_module({ast.unparse(node.args[0])})]")
            elif isinstance(node, ast.Assign | ast.AugAssign) and _targets_pytest_plugins(node):
                for constant in ast.walk(node.value):
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                        add(self._resolve_absolute(constant.value, path), node, scope)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in {"append", "extend"}
                  and isinstance(node.func.value, ast.Name) and node.func.value.id == "pytest_plugins"):
                for constant in (c for arg in node.args for c in ast.walk(arg)):
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                        add(self._resolve_absolute(constant.value, path), node, scope)
            for child in ast.iter_child_nodes(node):
                visit(child, scope)

        visit(tree, "<module>")
        return found

    def _base_of(self, node: ast.ImportFrom, name: str, is_package: bool, path: Path) -> str | None:
        """The module a `from X import ...` reads from, as a dotted name (maybe outside the tree)."""
        if node.level == 0:
            module = node.module or ""
            if module in self.modules or _has_prefix_in(module, self.modules):
                return module
            local = self._local_name(module, path)
            return local if local is not None else None
        package = name.split(".") if is_package else name.split(".")[:-1]
        if node.level - 1 > len(package):
            raise ValueError(f"{path}: relative import beyond the top of the tree")
        parts = package[: len(package) - (node.level - 1)]
        if node.module:
            parts += node.module.split(".")
        return ".".join(parts)

    def _resolve_from(self, base: str, imported: str) -> str | None:
        if imported != "*" and f"{base}.{imported}" in self.modules:
            return f"{base}.{imported}"
        return self._longest_module_prefix(base)

    def _resolve_absolute(self, dotted: str, path: Path) -> str | None:
        found = self._longest_module_prefix(dotted)
        if found is not None:
            return found
        local = self._local_name(dotted, path)
        return self._longest_module_prefix(local) if local is not None else None

    def _local_name(self, dotted: str, path: Path) -> str | None:
        """`import x` where `x` is no top-level module of the tree: a file next to the importer
        or in a directory above it that is on sys.path (a script's own directory, a pytest
        rootdir, a directory a conftest puts there), nearest first."""
        head = dotted.split(".")[0]
        directory = path.relative_to(self.root).parent.parts
        for end in range(len(directory), 0, -1):
            prefix = ".".join(directory[:end])
            if f"{prefix}.{head}" in self.modules:
                return f"{prefix}.{dotted}"
        return None

    def _longest_module_prefix(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    # -- cycles ---------------------------------------------------------------------------

    def cycles(self, group: Callable[[str], str | None] = lambda module: module) -> list[Cycle]:
        """One `Cycle` per strongly connected set of the graph seen through `group` (modules
        mapped to the same name are one node; None drops a module), each named by a shortest
        loop through its first member and by every edge that holds the set together."""
        by_pair: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            source, target = group(edge.source), group(edge.target)
            if source is None or target is None or source == target:
                continue
            by_pair.setdefault((source, target), []).append(edge)
        successors: dict[str, set[str]] = {}
        for source, target in by_pair:
            successors.setdefault(source, set()).add(target)
            successors.setdefault(target, set())
        found = []
        for members in _strongly_connected(successors):
            if len(members) < 2:
                continue
            inside = {(s, t): edges for (s, t), edges in by_pair.items() if s in members and t in members}
            start = min(members)
            loop = _shortest_loop(start, {s: {t for t in successors[s] if t in members} for s in members})
            found.append(Cycle(members=sorted(members), loop=loop,
                               edges=sorted((e for edges in inside.values() for e in edges),
                                            key=lambda e: (e.path, e.line, e.target))))
        return sorted(found, key=lambda c: c.members)


@dataclass
class Cycle:
    members: list[str]
    loop: list[str]  # start, ..., start
    edges: list[Edge]

    def describe(self) -> str:
        lines = [" -> ".join(self.loop), f"  {len(self.members)} in the loop: {', '.join(self.members)}",
                 "  imports that hold it together:"]
        lines += [f"    {edge.describe()}" for edge in self.edges]
        return "\n".join(lines)


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _has_prefix_in(dotted: str, modules: dict[str, Path]) -> bool:
    parts = dotted.split(".")
    return any(".".join(parts[:end]) in modules for end in range(len(parts), 0, -1))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_by_name(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module")


def _targets_pytest_plugins(node: ast.Assign | ast.AugAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets)


def _strongly_connected(successors: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules deep at most)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    for root in sorted(successors):
        if root in index:
            continue
        work = [(root, iter(sorted(successors[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(successors[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.add(member)
                    if member == node:
                        break
                result.append(members)
    return result


def _shortest_loop(start: str, successors: dict[str, set[str]]) -> list[str]:
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(successors[node]):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a strongly connected set but on no loop")
