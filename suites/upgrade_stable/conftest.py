"""upgrade-from-stable: ordered modules, one step each (test_00 ... test_06).

Every module is marked with its step; a failure in a step skips every later step with a
reason naming it (fixtures/chain.py). Logic lives in helpers/upgrade.py and helpers/checks.py.
"""

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep file order even under `-p no:randomly`-style plugins: the steps are a sequence."""
    here = str(config.rootpath / "suites" / "upgrade_stable")
    ours = [i for i in items if str(i.path).startswith(here)]
    if not ours:
        return
    others = [i for i in items if not str(i.path).startswith(here)]
    ours.sort(key=lambda i: (i.path.name, 0))  # stable sort keeps definition order inside a module
    items[:] = others + ours
