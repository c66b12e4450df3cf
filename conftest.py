"""Root conftest: registers the project's pytest plugins and the --config option.

The plugins live in `fixtures/` so that suites stay thin and the logic they call lives in
`helpers/` (which never imports pytest).

`pytester` (the project's own tests drive inner pytest runs) is loaded only when the run
selects `tests/`: it brings options of its own (`--lsof`, `--runpytest`) that a user running a
suite must not find in `pytest --help`.
"""

from importlib.util import find_spec
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent / "tests"

pytest_plugins = [
    "fixtures.options",
    "fixtures.run",
    "fixtures.chain",
    "fixtures.platform",
    "fixtures.apps",
    "fixtures.resume",
    "fixtures.upgrade",
]
if find_spec("fixtures.redis") is not None:
    pytest_plugins.append("fixtures.redis")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help", default=False) or config.pluginmanager.has_plugin("pytester"):
        return
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == TESTS or TESTS in path.parents or path in TESTS.parents:
            config.pluginmanager.import_plugin("pytester")
            return
