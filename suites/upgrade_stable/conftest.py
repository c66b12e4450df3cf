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


@pytest.fixture(scope="session", autouse=True)
def _needs_a_director(platform):
    """The upgrade suite drives BOSH: without a director in the config, one clear message."""
    platform.require_director("the upgrade-from-stable suite")


@pytest.fixture
def check_a0_routable(upgrade_run, record_testsuite_property):
    """`check_a0_routable(stage)`: the body of every `test_a0_routable_during_<step>`.

    Records the step's sample counts as JUnit suite properties (xunit2-safe), then fails with
    the outage windows that broke the step's policy, or when the poller did not sample the
    step (an unmeasured step must not pass as "no outage"). For the CF step the default
    policy only records: its windows appear in the report, not as a failure.
    """

    def check(stage):
        result = upgrade_run.routability(stage)
        for key in ("attempted", "failed", "longest_outage"):
            record_testsuite_property(f"a0_{stage.id}_{key}", result.summary[key])
        problem = result.failure()
        if problem:
            pytest.fail(problem, pytrace=False)
        return result

    return check
