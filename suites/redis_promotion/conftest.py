"""Redis promotion suite: runs against the platform (the embedded simulator when no config).

Fixtures come from `fixtures/redis.py` (registered by the root conftest): `platform`,
`redis_releases`, `promotion_store`, `promoter`, `deployed_env`, `moto_server`.
"""

from __future__ import annotations

import pytest

from promotion.__main__ import main


@pytest.fixture(scope="module")
def cli(platform, redis_releases, promotion_store):
    """Run `python -m promotion ...` in-process with the platform's config and the module's
    store; returns (exit status, stdout, stderr)."""

    def run(*args: str, capsys=None) -> int:
        argv = ["--config", str(platform.config.source), "--store", str(promotion_store.root), *args]
        return main(argv)

    return run
