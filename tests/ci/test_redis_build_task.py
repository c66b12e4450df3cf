"""The Redis build task's script, run as Concourse would run it: two clean clones of the same
commits, with different file times, give the same candidate digest, and the candidate
records both revisions (the task wiring; the digest rules themselves are promotion's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.redis import UPSTREAM_2015

REPO = Path(__file__).resolve().parents[2]


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _origin(path: Path, files: dict[str, Path], home: Path) -> Path:
    """A repository with one commit holding `files` (target path -> source)."""
    path.mkdir()
    for target, source in files.items():
        (path / target).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, path / target)
        else:
            shutil.copy(source, path / target)
    env = {**os.environ, "HOME": str(home), "GIT_AUTHOR_DATE": "2016-02-20T10:00:00Z",
           "GIT_COMMITTER_DATE": "2016-02-20T10:00:00Z"}
    _git(path, "init", "-q", env=env)
    _git(path, "add", ".", env=env)
    _git(path, "-c", "user.name=ci", "-c", "user.email=ci@example.test", "commit", "-qm", "fixture", env=env)
    return path


def _task_dir(root: Path, origins: dict[str, Path], mtime: int, home: Path) -> Path:
    """What Concourse lays out for the task: the git gets (with the resource's metadata
    files) and the bosh-io gets' version files."""
    root.mkdir()
    for name, origin in origins.items():
        subprocess.run(["git", "clone", "-q", str(origin), str(root / name)], check=True,
                       env={**os.environ, "HOME": str(home)})
        # git resource, get param timestamp_format: unix -> `git log -1 --format=%cd --date=unix`
        stamp = _git(root / name, "log", "-1", "--format=%cd", "--date=unix")
        (root / name / ".git" / "commit_timestamp").write_text(stamp + "\n")
        for path in (root / name).rglob("*"):
            if ".git" not in path.parts:
                os.utime(path, (mtime, mtime))
    for name, version in (("redis-release", "9.1.0"), ("stemcell", "3147")):
        (root / name).mkdir()
        (root / name / "version").write_text(version)
    (root / "candidate").mkdir()
    return root


def _run(task: Path, sim_config: dict[str, Any], store: Path, home: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home), "SKIP_SUITE_INSTALL": "1",
           "BOSH_DIRECTOR_URL": sim_config["bosh"]["url"], "BOSH_DIRECTOR_USERNAME": sim_config["bosh"]["username"],
           "BOSH_DIRECTOR_PASSWORD": sim_config["bosh"]["password"],
           "BOSH_DIRECTOR_CA_CERT": sim_config["bosh"]["ca_cert"], "PROMOTION_STORE": str(store), **extra}
    return subprocess.run(["bash", "upgrade-suite/ci/scripts/redis-build-candidate.sh"], cwd=task, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("origins")
    home = tmp / "home"
    home.mkdir()
    suite = _origin(tmp / "upgrade-suite", {"manifests/redis": REPO / "manifests/redis",
                                            "ci/scripts": REPO / "ci/scripts"}, home)
    upstream = _origin(tmp / "redis-boshrelease", {f"templates/{f.name}": f for f in UPSTREAM_2015.iterdir()
                                                   if f.is_file()}, home)
    return {"upgrade-suite": suite, "redis-boshrelease": upstream}


def test_two_clean_clones_with_different_file_times_build_one_digest(origins: dict[str, Path], sim: Any,
                                                                     tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = tmp_path / "store"
    digests, revisions = [], []
    for i, mtime in enumerate((1_000_000_000, 1_700_000_000)):
        task = _task_dir(tmp_path / f"task{i}", origins, mtime, home)
        r = _run(task, dict(sim.config), store, home)
        assert r.returncode == 0, r.stdout + r.stderr
        digests.append((task / "candidate/digest").read_text().strip())
        meta = subprocess.run([sys.executable, "-m", "promotion", "show", digests[-1], "--store", str(store)],
                              capture_output=True, text=True, check=True).stdout
        revisions.append(yaml.safe_load(meta)["sources"])
        assert sim.config["bosh"]["password"] not in r.stdout + r.stderr
    assert digests[0] == digests[1]
    assert revisions[0] == revisions[1]
    assert revisions[0]["project"]["revision"] == _git(origins["upgrade-suite"], "rev-parse", "HEAD")
    assert revisions[0]["upstream"]["revision"] == _git(origins["redis-boshrelease"], "rev-parse", "HEAD")


def test_without_the_resources_commit_timestamps_the_build_refuses(origins: dict[str, Path], sim: Any,
                                                                  tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    task = _task_dir(tmp_path / "task", origins, 1_000_000_000, home)
    (task / "redis-boshrelease/.git/commit_timestamp").write_text("2016-02-20 10:00:00 +0000\n")  # iso8601 default
    r = _run(task, dict(sim.config), tmp_path / "store", home)
    assert r.returncode == 1
    assert "timestamp_format: unix" in r.stderr
    assert not (task / "candidate/digest").exists()
