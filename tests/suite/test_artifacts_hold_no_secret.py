"""Artifacts hold no secret (issue 12 point 1): the main job runs, then every file of its
artifacts (report.json, samples.jsonl, timeline.html, task logs, run-state.json, the
manifests' copies, JUnit XML, anything) is searched for every secret the run knows. The real
manifests and the secrets file live in the run's private directory, owner-only."""

from __future__ import annotations

import stat

import pytest
import yaml
from harness import run_suite
from secrets_grep import known_secrets, leaks

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def test_the_main_job_leaves_no_secret_in_any_artifact(sim_factory, tmp_path):
    _, config = sim_factory()
    art, state = tmp_path / "art", tmp_path / "state"
    run = run_suite(["suites/upgrade_stable"], config=config, artifacts=art, state_dir=state,
                    extra=["--junitxml", str(art / "junit.xml")])
    assert run.returncode == 0, run.output[-3000:]
    assert run.report["outcome"] == "passed"

    secrets = known_secrets(config, state)
    assert len([n for n in secrets if n.startswith("secrets.yml")]) >= 30, sorted(secrets)
    assert "config bosh.password" in secrets and "config cf.admin_password" in secrets
    files = {p.relative_to(art).as_posix() for p in art.rglob("*") if p.is_file()}
    assert {"report.json", "run-state.json", "samples.jsonl", "timeline.html", "junit.xml",
            "manifests/v0/cf.yml", "manifests/v_prime/cell2.yml"} <= files
    assert any(f.startswith("tasks/task-") for f in files)
    assert not [f for f in files if f.endswith("secrets.yml")]
    assert leaks(art, secrets) == []

    # the grep can fail: the private manifests hold the very secrets it looks for
    (private,) = state.glob("runs/*/manifests")
    assert len(leaks(private, secrets)) > len(secrets) / 2
    # owner-only: every directory 0700, every file 0600
    for path in [private.parent, *private.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
    # the copies keep every key and the structure: only values are hidden
    copy = yaml.safe_load((art / "manifests" / "v0" / "cf.yml").read_text())
    real = yaml.safe_load((private / "v0" / "cf.yml").read_text())
    assert copy.keys() == real.keys() and copy["properties"].keys() == real["properties"].keys()
    assert copy["properties"]["nats"]["password"] == "[REDACTED]"
    assert copy["name"] == real["name"] and copy["releases"] == real["releases"]
