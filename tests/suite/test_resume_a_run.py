"""Resume (issue 12): a run that failed in its last step is continued after its last passed
step; before that, every way its record and the platform can disagree refuses the resume
with the differences, before any BOSH operation: another director, a state file naming a
deployment the run did not create, a tampered manifest digest, a deployment changed behind
the run's back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import run_suite

from helpers.bosh import Director
from helpers.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUITE = "suites/upgrade_stable"
RUN = "r1"
CHANGING = ("create deployment", "update deployment", "stop", "start", "delete")


def _changes(director: Director, since: int) -> list[str]:
    """Director tasks after task `since` that change something (reading vms is not a change)."""
    return [f"{t['id']}: {t['description']}" for t in director.tasks(all_types=True, limit=200)
            if int(t["id"]) > since and any(w in str(t.get("description")) for w in CHANGING)]


def _last_task(director: Director) -> int:
    return max((int(t["id"]) for t in director.tasks(all_types=True, limit=200)), default=0)


def _tampered(state: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the state directory whose run record `change(record)` edits."""
    copy = tmp_path / f"state-{name}"
    shutil.copytree(state, copy)
    path = copy / "runs" / RUN / "run-state.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))
    return copy


def test_a_run_failed_in_d4_resumes_after_its_last_passed_step_and_only_as_it_left_it(sim_factory, tmp_path):
    _, config = sim_factory()
    cfg = load_config(config)
    director = Director(cfg.bosh, cfg.resolver(), timeout=cfg.timeout)
    state = tmp_path / "state"
    first = run_suite([SUITE], config=config, artifacts=tmp_path / "a1", state_dir=state, extra=["--run-id", RUN],
                      faults=[{"at": "upgrade D4", "kind": "fail_next_task", "target": "cf-warden-diego-cell2",
                               "params": {"message": "injected: cell_z2/0 failed to start"}}])
    assert first.returncode == 1, first.output[-3000:]
    assert first.outcome("test_start_d3_then_upgrade_d4")[0] == "failed"
    assert first.report["outcome"] == "failed"
    assert f"kept the test org DUSTPY-{RUN}-ORG with A0 (a0-{RUN}) for --resume" in first.output
    assert f"--resume {RUN}" in first.output
    recorded = json.loads((state / "runs" / RUN / "run-state.json").read_text())
    assert recorded["steps"]["d4"]["outcome"] == "failed" and recorded["attempts"]["D4"]["version"] == "V-prime"

    def refused(name: str, state_dir: Path) -> str:
        before = _last_task(director)
        run = run_suite([SUITE], config=config, artifacts=tmp_path / f"refused-{name}", state_dir=state_dir,
                        extra=["--resume", RUN], timeout=120)
        assert run.returncode == 70, run.output[-3000:]
        assert f"cannot resume run {RUN}" in run.output and "nothing was changed" in run.output
        assert run.report["outcome"] == "platform error" and run.report["results"] == []
        assert _changes(director, before) == []  # not one BOSH operation that changes anything
        return run.output

    # the attacker's state files
    other = _tampered(state, tmp_path, "uuid", lambda r: r.update(director_uuid="5e1f0000-0000-4000-8000-000000000000"))
    assert f"the run was recorded on director 5e1f0000-0000-4000-8000-000000000000, this director is " \
           f"{director.uuid()}" in refused("uuid", other)

    from manifests.generate import generate

    foreign = generate("v0", director_uuid=director.uuid(), out=tmp_path / "foreign", prefix="someone")
    director.deploy(foreign["cell1"].read_text())
    foreign_manifest = director.deployment_manifest("someone-diego-cell1")
    named = _tampered(state, tmp_path, "name", lambda r: r["deployments"]["D3"].update(name="someone-diego-cell1"))
    out = refused("name", named)
    assert ("D3: the run state names deployment someone-diego-cell1, but this run's manifest for D3 deploys "
            "cf-warden-diego-cell1") in out
    assert director.deployment_manifest("someone-diego-cell1") == foreign_manifest
    director.delete_deployment("someone-diego-cell1")  # (it is a Diego cell: the smoke app would land there)

    digest = _tampered(state, tmp_path, "digest", lambda r: r["deployments"]["D1"].update(manifest="0" * 64))
    assert "D1 (cf-warden-diego-database): the run state records manifest sha256 000000000000 at V-prime" \
        in refused("digest", digest)

    # someone changed a deployment behind the run's back: refused, every difference in one message
    director.change_job_state("cf-warden-diego-database", "stopped")
    out = refused("stopped", state)
    assert "2 difference(s)" in out
    assert "D1 (cf-warden-diego-database): recorded running, its instances are stopped" in out
    assert f"A0 (a0-{RUN}): cannot tell whether it runs" in out and "Diego BBS is not available" in out
    director.change_job_state("cf-warden-diego-database", "started")

    # as the run left it: resumed, D4 completed, the earlier steps marked as the first invocation's
    second = run_suite([SUITE], config=config, artifacts=tmp_path / "a2", state_dir=state, extra=["--resume", RUN])
    assert second.returncode == 0, second.output[-3000:]
    assert f"resuming run {RUN}" in second.output and "going on with 'upgrade D4'" in second.output
    report = second.report
    assert report["outcome"] == "passed"
    assert [(s["title"], s["invocation"], s["outcome"]) for s in report["story"]] == [
        ("deploy V0", 0, "passed"), ("upgrade D1", 0, "passed"), ("upgrade D3", 0, "passed"),
        ("upgrade D2", 0, "passed"), ("upgrade CF", 0, "passed"), ("upgrade D4", 1, "passed")]
    skipped = [r for r in report["results"] if r["outcome"] == "skipped"]
    assert skipped and all(r["message"].endswith(f"resumed run {RUN}: passed in invocation 1") for r in skipped)
    assert not any("TestUpgradeD4" in r["nodeid"] for r in skipped)
    assert [i["steps"] for i in report["invocations"]][-1] == ["d4"]
    gap = report["unobserved"][0]
    assert gap["after_invocation"] == 1 and "a0_routable" in gap["measurements"] and gap["seconds"] > 0
    assert "not observed between invocations #1 and #2" in second.output
    assert f"deleted the test org DUSTPY-{RUN}-ORG" in second.output
    again = run_suite([SUITE], config=config, artifacts=tmp_path / "a3", state_dir=state, extra=["--resume", RUN],
                      timeout=120)
    assert again.returncode == 4 and "the run passed every step of the story; nothing to resume" in again.output
