"""The Redis finalize task's script, run as Concourse would run it against a director: a
clean clone of the release repository (no dev build index, no blob cache), the bosh CLI
from the github-release get, a ledger in which a dev release of that repository passed
dev1. The script cuts the final at the tested commit, uploads it, names the tarball for the
redis-release put and commits the final release for the repository put, without the
blobstore credentials (the cutting rules themselves are promotion's: tests/promotion)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures import oracles as binaries
from fixtures.redis import REDIS_JOBS, REDIS_PACKAGES, REDIS_SOURCES, STEMCELL, UPSTREAM_2015, build_candidate
from fixtures.release_dir import ReleaseDir
from helpers.bosh import Director
from helpers.config import parse_config
from helpers.releases import build_release_tarball, build_stemcell_tarball
from promotion.deploy import Promoter
from promotion.ledger import Ledger
from promotion.store import LocalStore

REPO = Path(__file__).resolve().parents[2]
SECRET = "blobstore-secret-for-the-test"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tested(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A release repository whose dev release passed dev1 on the simulator, in a store."""
    tmp = tmp_path_factory.mktemp("finalize-task")
    config = parse_config(sim.config, source="simulator")
    director = Director(config.bosh, config.resolver(), timeout=config.timeout)
    redis = tmp / "redis.tgz"
    redis.write_bytes(build_release_tarball("redis", "9+dev.1", REDIS_JOBS, packages=REDIS_PACKAGES,
                                            source=REDIS_SOURCES["9+dev.1"]))
    director.upload_release(redis)
    stemcell = tmp / "stemcell.tgz"
    stemcell.write_bytes(build_stemcell_tarball(*STEMCELL))
    if STEMCELL not in {(s["name"], s["version"]) for s in director.stemcells()}:
        director.upload_stemcell(stemcell)
    release = ReleaseDir.create(tmp / "origin", name="tiny-ci", git=True)
    dev = release.create_dev(tmp / "dev.tgz")
    director.upload_release(tmp / "dev.tgz")
    store = LocalStore(tmp / "store")
    promoter = Promoter(store=store, director=director, resolve=config.resolver().resolve, out=lambda m: None)
    promoter.deploy(build_candidate(store, UPSTREAM_2015, {"redis": "9+dev.1", release.name: dev["version"]}), "dev1")
    try:
        yield {"release": release, "dev": dev, "store": store, "director": director, "commit": release.git(
            "rev-parse", "HEAD")}
    finally:
        director.delete_deployment("redis-dev1")


def _task_dir(root: Path, release: ReleaseDir) -> Path:
    """What Concourse lays out: the suite's scripts, a clone of the release repository (the
    git get), the bosh CLI (the github-release get's glob), empty outputs."""
    (root / "upgrade-suite" / "ci").mkdir(parents=True)
    subprocess.run(["cp", "-a", str(REPO / "ci" / "scripts"), str(root / "upgrade-suite" / "ci" / "scripts")],
                   check=True)
    subprocess.run(["git", "clone", "-q", str(release.path), str(root / "redis-boshrelease")], check=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull})
    (root / "bosh-cli").mkdir()
    (root / "bosh-cli" / "bosh-cli-7.1.2-linux-amd64").symlink_to(binaries.binary("bosh"))
    for output in ("final-release", "finalized-release"):
        (root / output).mkdir()
    return root


def test_the_task_cuts_uploads_and_hands_the_final_to_the_puts(sim: Any, tested: dict[str, Any], tmp_path: Path):
    release, dev = tested["release"], tested["dev"]
    release.change_job("# work after the dev run\n")
    release.commit("work after the dev run")  # the get brings the branch's head, not the tested commit
    task = _task_dir(tmp_path / "task", release)
    # the bosh CLI, wrapped to note how the blobstore's credentials are there while it cuts
    private = task / "finalized-release" / "config" / "private.yml"
    seen = tmp_path / "private-yml-modes"
    cli = task / "bosh-cli" / "bosh-cli-7.1.2-linux-amd64"
    cli.unlink()
    cli.write_text(f"#!/bin/sh\nstat -c %a {private} >> {seen} 2>/dev/null || echo missing >> {seen}\n"
                   f'exec {binaries.binary("bosh")} "$@"\n')
    home = tmp_path / "home"
    home.mkdir()
    bosh = sim.config["bosh"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home), "SKIP_SUITE_INSTALL": "1",
           "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "DEV_RELEASE": release.name,
           "BOSH_DIRECTOR_URL": bosh["url"], "BOSH_DIRECTOR_USERNAME": bosh["username"],
           "BOSH_DIRECTOR_PASSWORD": bosh["password"], "BOSH_DIRECTOR_CA_CERT": bosh["ca_cert"],
           "PROMOTION_STORE": str(tested["store"].root), "RELEASE_PRIVATE_YML": f"---\nsecret: {SECRET}\n",
           # the simulator's resolve map and director TLS keys: nothing leaves the loopback
           "SUITE_CONFIG_OVERLAY": yaml.safe_dump({"resolve": sim.config["resolve"], "bosh": {
               k: v for k, v in bosh.items() if k.startswith("tls_") or k == "skip_ssl_validation"}})}
    r = subprocess.run(["bash", "upgrade-suite/ci/scripts/redis-finalize.sh"], cwd=task, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"final release {release.name}/1: final-release/{release.name}-1.tgz" in r.stdout
    assert SECRET not in r.stdout + r.stderr and bosh["password"] not in r.stdout + r.stderr

    assert [p.name for p in (task / "final-release").iterdir()] == [f"{release.name}-1.tgz"]
    out = task / "finalized-release"
    git = ["git", "-C", str(out)]
    assert subprocess.run([*git, "log", "-1", "--format=%s %P"], capture_output=True, text=True,
                          env=env).stdout.strip() == f"Final release 1 {tested['commit']}"  # on the tested commit
    committed = subprocess.run([*git, "show", "--name-only", "--format=", "HEAD"], capture_output=True, text=True,
                               env=env).stdout.split()
    assert f"releases/{release.name}/{release.name}-1.yml" in committed
    assert not any("private.yml" in f for f in committed)
    # the blobstore's credentials do not outlive the task in its outputs (streamed, kept by the workers)
    assert set(seen.read_text().split()) == {"600"}, seen.read_text()  # there, owner-only, while bosh ran
    assert not private.exists()
    left = [f for f in task.rglob("*") if f.is_file() and not f.is_symlink() and SECRET.encode() in f.read_bytes()]
    assert left == [], f"the blobstore secret is still in {left}"
    assert subprocess.run([*git, "status", "--short"], capture_output=True, text=True, env=env).stdout == ""

    [record] = [x for x in Ledger(tested["store"]).records() if x.kind == "finalize"]
    assert record.extra["cut_from"]["version"] == dev["version"] and record.extra["commit"] == tested["commit"]
    on_director = tested["director"].release(release.name, "1")
    assert [j["fingerprint"] for j in on_director["jobs"]] == [j["fingerprint"] for j in dev["jobs"]]
