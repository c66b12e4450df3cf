"""The integration checks run alone, as a pipeline runs them after a deploy:

    pytest suites/redis_promotion/test_integration.py --config C --redis-env dev1 --candidate D

against the environment's existing deployment, appending a `test` record to the ledger; and
refusing a `--candidate` that the ledger says does not run there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures.redis import REPO, build_candidate
from promotion.ledger import Ledger

pytestmark = pytest.mark.xdist_group("redis-promotion")


def _run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/redis_promotion/test_integration.py", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "--config", str(config), *args],
        cwd=REPO, capture_output=True, text=True, timeout=300)


def test_checks_of_an_existing_environment_are_recorded(platform, promoter, promotion_store, redis_upstream,
                                                       tmp_path):
    digest = build_candidate(promotion_store, redis_upstream, {"redis": "9.1"})
    promoter.deploy(digest, "dev2")
    config = yaml.safe_load(Path(platform.config.source).read_text())
    config.setdefault("promotion", {})["store"] = str(promotion_store.root)
    path = tmp_path / "config.yml"
    path.touch(mode=0o600)  # it carries the simulator's credentials, like the simulator's own file
    path.write_text(yaml.safe_dump(config))

    ok = _run(path, "--redis-env", "dev2", "--candidate", digest)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "3 passed" in ok.stdout
    tests = [r for r in Ledger(promotion_store).records() if r.kind == "test"]
    assert [(r.env, r.candidate, r.outcome) for r in tests] == [("dev2", digest, "passed")]

    other = build_candidate(promotion_store, redis_upstream, {"redis": "9"})
    wrong = _run(path, "--redis-env", "dev2", "--candidate", other)
    assert wrong.returncode != 0
    assert f"runs candidate {digest[:12]}, not {other[:12]}" in wrong.stdout
    assert len([r for r in Ledger(promotion_store).records() if r.kind == "test"]) == 1
