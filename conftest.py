"""Root conftest: registers the project's pytest plugins and the --config option.

The plugins live in `fixtures/` so that suites stay thin and the logic they call lives in
`helpers/` (which never imports pytest).
"""

from importlib.util import find_spec

pytest_plugins = [
    "fixtures.options",
    "fixtures.run",
    "fixtures.chain",
    "fixtures.platform",
    "fixtures.apps",
    "fixtures.upgrade",
    "pytester",  # tests/suite drives inner pytest runs
]
if find_spec("fixtures.redis") is not None:
    pytest_plugins.append("fixtures.redis")
