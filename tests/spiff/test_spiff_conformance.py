"""The recorded spiff 1.0.8 behaviour: the conformance runner and the redis golden."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from manifests.spiff import load_yaml_file, merge_files

REDIS_FILES = ["deployment.yml", "jobs.yml", "infrastructure-warden.yml", "stub-with-uuid.yml"]


def _env(repo_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo_root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def test_conformance_runner_passes_every_case(shared_dir: Path, repo_root: Path) -> None:
    check = shared_dir / "conformance" / "spiff" / "check.py"
    p = subprocess.run([sys.executable, str(check), sys.executable, "-m", "manifests.spiff"],
                       cwd=repo_root, env=_env(repo_root), capture_output=True, text=True, timeout=600)
    last = p.stdout.strip().splitlines()[-1]
    assert last == "70 passed, 0 failed", p.stdout[-3000:]
    assert p.returncode == 0


def test_redis_golden_via_cli(shared_dir: Path, repo_root: Path) -> None:
    d = shared_dir / "conformance" / "redis-2015"
    p = subprocess.run([sys.executable, "-m", "manifests.spiff", "merge", *REDIS_FILES], cwd=d,
                       env=_env(repo_root), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    expected = yaml.safe_load((d / "expected-manifest.yml").read_text())
    assert yaml.safe_load(p.stdout) == expected
    assert p.stdout.endswith("\n\n")  # spiff prints one extra newline
    # Not part of the contract (structure is), but our emitter reproduces spiff's
    # bytes for this golden; a change here means the output layout drifted.
    assert p.stdout == (d / "expected-manifest.yml").read_text()


def test_redis_golden_via_api(shared_dir: Path, monkeypatch) -> None:
    d = shared_dir / "conformance" / "redis-2015"
    monkeypatch.chdir(d)  # names are relative, as upstream's make_manifest runs them
    result = merge_files(REDIS_FILES)
    assert result == load_yaml_file("expected-manifest.yml")
    pools = {p["name"]: p for p in result["resource_pools"]}
    assert pools["small_z1"]["size"] == 5  # `auto` counts the errand too
