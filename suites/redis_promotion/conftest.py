"""Redis promotion suite: runs against the platform (the embedded simulator when no config).

Fixtures come from `fixtures/redis.py` (registered by the root conftest): `platform`,
`redis_releases`, `promotion_store`, `promoter`, `deployed_env`, `moto_server`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.platform import EXIT_SETUP, PlatformProblem, mark_needs_director, when_opened
from promotion.__main__ import main

ENV_DEPLOYMENTS = ("redis-dev1", "redis-dev2", "redis-staging", "redis-production")
HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    when_opened(config, _redis_server_for_the_embedded_simulator)


def _redis_server_for_the_embedded_simulator(session, platform):
    """The embedded simulator runs a real redis-server for every Redis instance it deploys, on
    this machine: without one, say so before anything is deployed (a BOSH task's error is cut
    at 128 characters, before the name of what is missing)."""
    if platform.owns_director and shutil.which("redis-server") is None \
            and any(HERE in item.path.parents for item in session.items):
        raise PlatformProblem("the Redis promotion suite on the embedded simulator needs redis-server on the PATH "
                              "(the simulator runs a real redis-server for every Redis instance): install it, "
                              "e.g. apt-get install redis-server", EXIT_SETUP)


def pytest_collection_modifyitems(items):
    mark_needs_director(items, HERE, "the Redis promotion suite")


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
