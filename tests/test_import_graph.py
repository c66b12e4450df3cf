"""No import loops anywhere in the tree, at three scales (tests/import_graph.py says what counts
as an import: every statement, in functions and under TYPE_CHECKING too):

* modules: no module depends on itself through others;
* packages: the top-level packages (helpers, manifests, fixtures, promotion, simulator, ci, codec,
  suites, tests, benchmarks) depend on each other in one direction only (so `helpers` and
  `manifests` cannot lean on each other through two unrelated modules);
* the simulator's parts: `simulator.director`, `simulator.cloudcontroller`, ..., and its shared
  modules (`simulator.world`, `simulator.server`, ...) likewise.

The project's own tests are part of the tree: a test module that another test imports (the
shared fakes, the oracle harness) is code like any other.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tests.import_graph import ImportGraph

ROOT = Path(__file__).resolve().parents[1]
CODEC = "codec"


def layer(module: str) -> str:
    """The unit of the package-level check: a top-level package, or a part of the simulator."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "simulator" and len(parts) > 1 else parts[0]


@pytest.fixture(scope="module")
def tree() -> ImportGraph:
    return ImportGraph.scan(ROOT)


def _report(cycles, scale: str) -> str:
    return f"{len(cycles)} import loop(s) between {scale}:\n\n" + "\n\n".join(c.describe() for c in cycles)


def test_no_module_imports_itself_through_others(tree):
    cycles = tree.cycles()
    assert cycles == [], _report(cycles, "modules")


def test_packages_and_simulator_parts_depend_in_one_direction(tree):
    cycles = tree.cycles(layer)
    assert cycles == [], _report(cycles, "packages / simulator parts")


def test_the_wire_codec_depends_on_nothing_of_the_project(tree):
    assert any(name.split(".")[0] == CODEC for name in tree.modules), f"no {CODEC}/ package in the tree"
    outward = [e.describe() for e in tree.edges if layer(e.source) == CODEC and layer(e.target) != CODEC]
    assert outward == [], f"{CODEC}/ is the bottom of the tree and imports:\n" + "\n".join(outward)


ABOVE_HELPERS = ("manifests", "fixtures", "suites", "simulator", "promotion", "ci", "tests", "benchmarks")


def test_helpers_import_nothing_above_them_and_never_pytest(tree):
    """helpers/ is the library every other part stands on (DESIGN.md): it may use the codec
    below it and nothing above it, and it never imports pytest (suites stay thin, logic is
    unit-tested without a test runner)."""
    upward = [e.describe() for e in tree.edges
              if layer(e.source) == "helpers" and layer(e.target) in ABOVE_HELPERS]
    assert upward == [], "helpers/ imports the layers above it:\n" + "\n".join(upward)
    uses_pytest = []
    for name, path in tree.modules.items():
        if layer(name) != "helpers":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            roots = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            uses_pytest += [f"{name}:{node.lineno}" for r in roots if r.split(".")[0] in ("pytest", "_pytest")]
    assert uses_pytest == [], f"helpers/ imports pytest: {uses_pytest}"


# --- the checker against trees made to fool it --------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> ImportGraph:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return ImportGraph.scan(tmp_path)


def test_an_import_hidden_in_a_function_is_a_loop(tmp_path):
    graph = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/model.py": "def app():\n    from pkg.http import App\n    return App()\n",
        "pkg/http.py": "from pkg.model import thing\n",
    })
    [cycle] = graph.cycles()
    assert cycle.loop == ["pkg.http", "pkg.model", "pkg.http"]
    assert "pkg.model -> pkg.http  (pkg/model.py:2, app)" in cycle.describe()


def test_a_type_checking_import_is_a_loop(tmp_path):
    graph = _tree(tmp_path, {
        "a.py": "from typing import TYPE_CHECKING\nimport b\nif TYPE_CHECKING:\n    from c import C\n",
        "b.py": "",
        "c.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    import a\n",
    })
    [cycle] = graph.cycles()
    assert cycle.members == ["a", "c"]
    assert "(a.py:4, <module> [TYPE_CHECKING])" in cycle.describe()


def test_relative_imports_and_names_from_a_package_init(tmp_path):
    graph = _tree(tmp_path, {
        "pkg/__init__.py": "from .engine import Engine\nLIMIT = 3\n",
        "pkg/engine.py": "from . import LIMIT\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/leaf.py": "from ..engine import Engine\nfrom .. import engine\n",
    })
    [cycle] = graph.cycles()
    assert cycle.members == ["pkg", "pkg.engine"]
    leaf = {(e.target, e.line) for e in graph.edges if e.source == "pkg.sub.leaf"}
    assert leaf == {("pkg.engine", 1), ("pkg.engine", 2)}


def test_a_package_init_assembling_its_own_modules_is_no_loop(tmp_path):
    graph = _tree(tmp_path, {
        "part/__init__.py": "from part.model import Model\nfrom part.http import App\n"
                            "def attach(world):\n    return App(Model())\n",
        "part/model.py": "class Model: ...\n",
        "part/http.py": "from part.model import Model\nclass App: ...\n",
    })
    assert graph.cycles() == []


def test_imports_by_name_count(tmp_path):
    graph = _tree(tmp_path, {
        "conftest.py": "pytest_plugins = ['plug.one']\npytest_plugins.append('plug.two')\n",
        "plug/__init__.py": "",
        "plug/one.py": "import importlib\nimportlib.import_module('plug.two')\n",
        "plug/two.py": "",
        "server.py": "import importlib\nPARTS = ('parts.a', 'os')\n"
                     "def attach():\n    for name in PARTS:\n        importlib.import_module(name)\n",
        "parts/__init__.py": "",
        "parts/a.py": "def attach():\n    from server import PARTS\n",
    })
    edges = {(e.source, e.target) for e in graph.edges}
    assert {("conftest", "plug.one"), ("conftest", "plug.two"), ("plug.one", "plug.two"),
            ("server", "parts.a")} <= edges
    [cycle] = graph.cycles()
    assert cycle.members == ["parts.a", "server"]


def test_a_neighbour_imported_as_top_level_and_loops_between_packages(tmp_path):
    graph = _tree(tmp_path, {
        "tests/suite/harness.py": "", "tests/fakes.py": "",
        "tests/suite/test_x.py": "from harness import run\nfrom __future__ import annotations\n"
                                 "from fakes import FakeCC\n",
        "low/__init__.py": "", "low/a.py": "def f():\n    import high.b\n",
        "high/__init__.py": "", "high/b.py": "", "high/c.py": "import low.a\n",
    })
    assert {(e.target, e.line) for e in graph.edges if e.source == "tests.suite.test_x"} == {
        ("tests.suite.harness", 1), ("tests.fakes", 3)}
    assert graph.cycles() == []  # modules: low.a -> high.b, high.c -> low.a is no loop ...
    [cycle] = graph.cycles(layer)  # ... but the packages lean on each other
    assert cycle.members == ["high", "low"]
    assert "high.c -> low.a  (high/c.py:1, <module>)" in cycle.describe()
