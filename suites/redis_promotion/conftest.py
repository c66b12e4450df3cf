"""Redis promotion suite: runs against the platform (the embedded simulator when no config).

Fixtures come from `fixtures/redis.py` (registered by the root conftest): `platform`,
`redis_releases`, `promotion_store`, `promoter`, `deployed_env`, `moto_server`.
"""

from __future__ import annotations

import pytest

from promotion.__main__ import main

ENV_DEPLOYMENTS = ("redis-dev1", "redis-dev2", "redis-staging", "redis-production")


@pytest.fixture(scope="session", autouse=True)
def _remove_our_redis_deployments(platform):
    """On a simulator this run started, delete the Redis deployments this suite created, so
    later suites sharing the simulator do not carry 16 redis-servers. On a real director
    nothing is deleted: the environments are the pipeline's, not ours."""
    director = platform.require_director("the Redis promotion suite")
    before = set(director.deployment_names()) if platform.owns_director else set()
    yield
    if not platform.owns_director:
        return
    for name in ENV_DEPLOYMENTS:
        if name not in before and name in director.deployment_names():
            director.delete_deployment(name)


@pytest.fixture(scope="module")
def cli(platform, redis_releases, promotion_store, tested_dev_releases):
    """Run `python -m promotion ...` in-process with the platform's config and the module's
    store (where the dev builds of the fixture's finals passed dev2); returns the exit
    status (read the output with `capsys`)."""

    def run(*args: str) -> int:
        argv = ["--config", str(platform.config.source), "--store", str(promotion_store.root), *args]
        return main(argv)

    return run
