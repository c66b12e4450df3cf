"""Fixtures of the promotion tests that run on a small in-process director (tests/fakes.py)
with real redis-servers: `director`, `promoter` (its messages in `promoter.messages`),
`dev_tested`."""

from __future__ import annotations

import pytest
from fakes import FakeDirector

from fixtures.redis import pass_dev_builds
from promotion.deploy import Promoter


@pytest.fixture
def director(tmp_path):
    d = FakeDirector(tmp_path / "sim")
    yield d
    d.close()


@pytest.fixture
def promoter(local_store, director):
    msgs: list[str] = []
    p = Promoter(store=local_store, director=director, resolve=director.resolve, out=msgs.append,
                 replication_wait=5.0)
    p.messages = msgs  # type: ignore[attr-defined]
    return p


@pytest.fixture
def dev_tested(promoter, redis_upstream):
    """`dev_tested(*finals, env="dev2", promoter=...)`: the dev builds those final redis
    releases were cut from pass `env`, as staging and production require of every final
    release a candidate uses (gate final-from-tested-dev)."""

    def run(*finals: str, env: str = "dev2", promoter: Promoter = promoter) -> None:
        pass_dev_builds(promoter, redis_upstream, finals, env)

    return run
