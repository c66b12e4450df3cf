"""upgrade-from-stable: the story of helpers/story.py, one test class per step, in its order.

Deploy V0 (CF, D1, D2, D3, D4); upgrade D1; upgrade D3, stop D4; upgrade D2, start D4, stop
D3; upgrade CF; start D3, upgrade D4. After every step: the versions, a smoke test with
placement, A0 scaled 1 -> 2 -> 1; throughout every step: each registered measurement
(helpers/observers/). `pytest --collect-only -q suites/upgrade_stable` lists the story.
"""

from fixtures.story_tests import story_classes

globals().update(story_classes())
