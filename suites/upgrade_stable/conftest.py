"""upgrade-from-stable: the tests are generated from the story (fixtures/story_tests.py).

A failure in a step skips every later step with a reason naming it (fixtures/chain.py).
Logic lives in helpers/ (story, driver, conductor, observers, checks).
"""

import pytest

from helpers.story import STORY


def pytest_configure(config):
    """An ordered chain cannot be spread over xdist workers (each would deploy and upgrade on
    its own, into one artifacts directory): one clear message instead."""
    workers = getattr(config.option, "numprocesses", None)
    if workers not in (None, 0, "0") and not hasattr(config, "workerinput"):
        pytest.exit(f"the upgrade-from-stable suite is one ordered story and cannot run on several workers "
                    f"(-n {workers}): run it without -n (tests/ may use -n)", 4)


@pytest.fixture(scope="session", autouse=True)
def _upgrade_run(platform, run_state):
    """The upgrade suite drives BOSH: without a director in the config, one clear message.
    Its report lists the story's steps."""
    platform.require_director("the upgrade-from-stable suite")
    run_state.story = STORY
