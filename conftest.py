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
    _schedule_by_module(config)
    if config.getoption("help", default=False) or config.pluginmanager.has_plugin("pytester"):
        return
    from fixtures.platform import selecting  # imported by pytest_plugins by now (assertion rewriting)

    if selecting(config, TESTS):
        config.pluginmanager.import_plugin("pytester")


def _schedule_by_module(config: pytest.Config) -> None:
    """Under `-n`, keep each module (and class) on one worker unless `--dist` says otherwise.

    Several modules of tests/ play one ordered session (tests/oracles: a CLI user's steps
    sharing one target, org and app). xdist's default `load` scheduling splits a module between
    workers, and the second worker's first step finds nothing done (`pytest -n 2
    tests/oracles/test_cf_cli.py`: 17 failed). Set here rather than in the addopts, which
    would break every run that turns xdist off (`-p no:xdist`: unknown `--dist`)."""
    given = any(arg == "--dist" or arg.startswith("--dist=") for arg in config.invocation_params.args)
    if getattr(config.option, "dist", "no") == "load" and not given:
        config.option.dist = "loadscope"
