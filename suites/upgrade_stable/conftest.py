"""upgrade-from-stable: the tests are generated from the story (fixtures/story_tests.py).

A failure in a step skips every later step with a reason naming it (fixtures/chain.py).
Logic lives in helpers/ (story, driver, conductor, observers, checks). `-n` is refused for
every suite (fixtures/platform.py, `refuse_workers`): the story is one ordered run.
"""

from pathlib import Path

import pytest

from fixtures.platform import mark_needs_director
from helpers.story import STORY

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    mark_needs_director(items, HERE, "the upgrade-from-stable suite")


@pytest.fixture(scope="session", autouse=True)
def _upgrade_run(platform, run_state):
    """The report lists the story's steps."""
    run_state.story = STORY
