"""upgrade-from-stable: the tests are generated from the story (fixtures/story_tests.py).

A failure in a step skips every later step with a reason naming it (fixtures/chain.py).
Logic lives in helpers/ (story, driver, conductor, observers, checks).
"""

import pytest

from helpers.story import STORY


@pytest.fixture(scope="session", autouse=True)
def _upgrade_run(platform, run_state):
    """The upgrade suite drives BOSH: without a director in the config, one clear message.
    Its report lists the story's steps."""
    platform.require_director("the upgrade-from-stable suite")
    run_state.story = STORY
