"""The smoke test on its own, against any CF named by the config.

With no config the platform fixture starts the embedded simulator, whose director has
nothing deployed; as this run owns that director, it deploys V0 first (the story's first
step, through the same driver as the upgrade suite). With a config, nothing is deployed:
the CF must already exist, and no manifest is generated.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers.preflight import preflight
from helpers.story import DEPLOY_V0


@pytest.fixture(scope="session")
def smoke_run(request: pytest.FixtureRequest, platform: Any, smoke_check: Any) -> Any:
    """The smoke check, logged in to CF; deploys V0 first when this run owns an empty director."""
    if platform.owns_director:  # against any other CF no manifest is generated, nothing deployed
        sets = request.getfixturevalue("manifest_sets")
        if sets.name("CF") not in platform.director.deployment_names():
            releases, stemcells = sets.required()
            preflight(platform.director, names=sets.names().values(), required_releases=releases,
                      required_stemcells=stemcells)
            request.getfixturevalue("conductor").operate(DEPLOY_V0)
    try:
        platform.new_cf().info()
    except Exception as exc:
        pytest.fail(f"cannot log in to CF at {platform.config.cf.api}: {exc}", pytrace=False)
    return smoke_check
