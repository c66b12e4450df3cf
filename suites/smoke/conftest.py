"""The smoke test on its own, against any CF named by the config.

With no config the platform fixture starts the embedded simulator, whose director has
nothing deployed; as this run owns that director, it deploys V0 first (the same choreography
as the upgrade suite). With a config, nothing is deployed: the CF must already exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers.upgrade import DEPLOY_V0


@pytest.fixture(scope="session")
def smoke_run(platform: Any, upgrade_run: Any) -> Any:
    """The run, logged in to CF; deploys V0 first when this run owns an empty director."""
    if platform.owns_director:  # against any other CF no manifest is generated, nothing deployed
        upgrade_run.prepare()
        if upgrade_run.names["cf"] not in platform.director.deployment_names():
            upgrade_run.preflight()
            upgrade_run.run_stage(DEPLOY_V0)
    try:
        upgrade_run.cf.info()
    except Exception as exc:
        pytest.fail(f"cannot log in to CF at {platform.config.cf.api}: {exc}", pytrace=False)
    return upgrade_run
