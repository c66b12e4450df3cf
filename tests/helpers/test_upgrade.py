"""Upgrade choreography: the stages as data, and UpgradeRun against a fake director."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from helpers import upgrade
from helpers.checks import CheckFailed
from helpers.poller import FetchResult, Poller, Sample
from helpers.steps import StepRecorder
from helpers.upgrade import DEPLOY_V0, ORDER, STAGES, Op, Stage, UpgradeRun, validate_choreography

VERSIONS = {"v0": {"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0"},
            "v_prime": {"cf": "231", "diego": "0.1454.0", "garden-linux": "0.333.0", "etcd": "36"}}
SUFFIX = {"cf": "", "database": "-diego-database", "brain-and-pals": "-diego-brain-and-pals",
          "cell1": "-diego-cell1", "cell2": "-diego-cell2"}


def test_story_order_and_kinds():
    assert [STAGES[i].title for i in ORDER] == ["upgrade D1", "upgrade D3", "upgrade D2", "upgrade CF", "upgrade D4"]
    assert [STAGES[i].kind for i in ORDER] == ["diego", "diego", "diego", "cf", "diego"]
    assert [op.label for op in STAGES["d3"].ops] == ["deploy D3 at V-prime", "stop D4"]
    assert [op.label for op in STAGES["d2"].ops] == ["deploy D2 at V-prime", "start D4", "stop D3"]
    assert [op.label for op in STAGES["d4"].ops] == ["start D3", "deploy D4 at V-prime"]
    assert STAGES["d3"].test_suffix == "upgrade_d3"


def test_choreography_invariants_hold():
    assert validate_choreography([DEPLOY_V0] + [STAGES[i] for i in ORDER]) == []


def test_choreography_validator_catches_both_cells_down_and_wrong_expectations():
    bad = [Stage("x", "x", "diego", (Op("stop", "cell1"), Op("stop", "cell2")), (), {})]
    assert any("while no other cell runs" in p for p in validate_choreography(bad))
    wrong = [Stage("y", "y", "diego", (Op("deploy", "cell1"),), ("cell1", "cell2"), {"cell2": "v_prime"})]
    assert any("expects cell2 at v_prime" in p for p in validate_choreography(wrong))


# ------------------------------------------------------------------ fakes


def fake_generate(versions, target, director_uuid, out, stubs, prefix, *, secrets_file, cf_admin_user,
                  cf_admin_password):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for piece, suffix in SUFFIX.items():
        rel = dict(VERSIONS[versions])
        if piece == "cf":
            rel = {"cf": rel["cf"]}
        doc = {"name": prefix + suffix, "director_uuid": director_uuid,
               "releases": [{"name": k, "version": v} for k, v in rel.items()],
               "resource_pools": [{"name": "z1", "stemcell": {"name": "stem", "version": "2776"}}],
               "admin": cf_admin_user}
        p = out / f"{piece}.yml"
        p.write_text(yaml.safe_dump(doc))
        paths[piece] = p
    return paths


@dataclass
class Task:
    id: int
    deployment: str
    state: str = "done"


@dataclass
class FakeDirector:
    existing: dict[str, dict[str, str]] = field(default_factory=dict)
    uploaded: list[tuple[str, str]] = field(default_factory=lambda: [
        (n, v) for vs in VERSIONS.values() for n, v in vs.items()])
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    authenticated: str | None = "admin"
    fail_on: str | None = None
    ids: int = 0

    def info(self):
        return {"uuid": "uuid-1"}

    def uuid(self):
        return "uuid-1"

    def authenticated_user(self):
        return self.authenticated

    def releases(self):
        out: dict[str, list] = {}
        for n, v in self.uploaded:
            out.setdefault(n, []).append({"version": v})
        return [{"name": n, "release_versions": vs} for n, vs in out.items()]

    def stemcells(self):
        return [{"name": "stem", "version": "2776"}]

    def deployment_names(self):
        return list(self.existing)

    def deployments(self):
        return [{"name": n, "releases": [{"name": k, "version": v} for k, v in r.items()]}
                for n, r in self.existing.items()]

    def instances(self, name):
        return [{"ips": ["10.244.16.2" if name.endswith("cell1") else "10.244.16.6"]}]

    def _task(self, what, name):
        self.ids += 1
        self.calls.append((what, name, ""))
        if self.fail_on and self.fail_on in f"{what} {name}":
            raise RuntimeError(f"BOSH task {self.ids} for deployment {name} ended in state 'error'")
        return Task(self.ids, name)

    def deploy(self, manifest_yaml, on_event=None):
        doc = yaml.safe_load(manifest_yaml)
        if on_event:
            on_event({"stage": "Updating instance", "task": doc["name"], "state": "started"})
        task = self._task("deploy", doc["name"])
        self.existing[doc["name"]] = {r["name"]: r["version"] for r in doc["releases"]}
        return task

    def change_job_state(self, name, state, on_event=None):
        return self._task(state, name)

    def delete_deployment(self, name, on_event=None, force=False):
        task = self._task("delete", name)
        self.existing.pop(name, None)
        return task


def make_run(tmp_path, director=None, cell_stop="stop", manifests=None, recorder=None):
    config = SimpleNamespace(
        upgrade=SimpleNamespace(deployment_prefix="cf-warden", versions={"v0": "v0", "v_prime": "v_prime"},
                                manifests=manifests or {"v0": None, "v_prime": None}, stubs=(), cell_stop=cell_stop),
        cf=SimpleNamespace(admin_user="admin", admin_password="pw", system_domain="bosh-lite.com",
                         apps_domain="bosh-lite.com"),
        timeout=lambda name: 1.0)
    events = []
    run = UpgradeRun(config=config, director=director or FakeDirector(), cf_factory=lambda: None,
                     manifests_dir=tmp_path / "manifests", recorder=recorder or StepRecorder(), app_dir=tmp_path,
                     http=lambda url, headers=None: FetchResult(200, {}, ""), recent_logs=lambda cf, g: [],
                     ssh_exec=lambda *a: None, on_event=events.append, generate=fake_generate)
    run.events = events  # type: ignore[attr-defined]
    return run


def test_prepare_generates_both_sets_with_credentials(tmp_path):
    run = make_run(tmp_path)
    m = run.prepare()
    assert set(m) == {"v0", "v_prime"} and set(m["v0"]) == set(upgrade.PIECES)
    assert run.names["cell2"] == "cf-warden-diego-cell2"
    doc = yaml.safe_load(m["v_prime"]["cf"].read_text())
    assert doc["director_uuid"] == "uuid-1" and doc["admin"] == "admin"


def test_prepare_uses_pregenerated_dirs(tmp_path):
    pre = tmp_path / "pre"
    fake_generate("v0", "bosh-lite", "u", pre, (), "cf-warden", secrets_file=None, cf_admin_user="a",
                  cf_admin_password="b")
    run = make_run(tmp_path, manifests={"v0": str(pre), "v_prime": None})
    m = run.prepare()
    assert m["v0"]["cf"] == pre / "cf.yml"


def test_preflight_passes_then_names_missing_and_existing(tmp_path):
    assert all(v.ok for v in make_run(tmp_path).preflight())
    d = FakeDirector(uploaded=[("cf", "220")])
    with pytest.raises(CheckFailed, match=re.escape("release diego/0.1434.0")):
        make_run(tmp_path / "b", d).preflight()
    d = FakeDirector(existing={"cf-warden-diego-cell1": {}})
    with pytest.raises(CheckFailed, match="cf-warden-diego-cell1 already exist"):
        make_run(tmp_path / "c", d).preflight()
    d = FakeDirector(authenticated=None)
    with pytest.raises(CheckFailed, match="did not accept the configured credentials"):
        make_run(tmp_path / "d", d).preflight()


def test_full_choreography_calls_and_steps(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)
    for i in ORDER:
        if i == "cf":
            continue
        run.run_stage(STAGES[i])
    calls = [(w, n) for w, n, _ in d.calls]
    assert calls[5:] == [
        ("deploy", "cf-warden-diego-database"),
        ("deploy", "cf-warden-diego-cell1"), ("stopped", "cf-warden-diego-cell2"),
        ("deploy", "cf-warden-diego-brain-and-pals"), ("started", "cf-warden-diego-cell2"),
        ("stopped", "cf-warden-diego-cell1"),
        ("started", "cf-warden-diego-cell1"), ("deploy", "cf-warden-diego-cell2")]
    names = [s.name for s in run.recorder.steps()]
    assert "upgrade D3" in names and "stop D4 (cf-warden-diego-cell2)" in names
    d3 = run.recorder.get("upgrade D3")
    op = run.recorder.get("stop D4 (cf-warden-diego-cell2)")
    assert d3.kind == "diego" and d3.start_mono <= op.start_mono <= op.end_mono <= d3.end_mono
    assert run.events and run.state["cell2"] == {"version": "v_prime", "running": True}
    assert all(v.ok for v in run.verify_versions(STAGES["d4"]))


def test_cell_stop_delete_mode_redeploys_saved_version(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d, cell_stop="delete")
    run.run_stage(DEPLOY_V0)
    run.run_stage(STAGES["d1"])
    run.run_stage(STAGES["d3"])
    assert ("delete", "cf-warden-diego-cell2", "") in d.calls
    assert "cf-warden-diego-cell2" not in d.existing
    run.run_stage(STAGES["d2"])
    # D4 comes back at V0 (the version it had), from our own manifest
    assert d.existing["cf-warden-diego-cell2"]["diego"] == "0.1434.0"


def test_failed_task_fails_the_stage_step(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)
    run.run_stage(STAGES["d1"])
    d.fail_on = "deploy cf-warden-diego-cell1"
    with pytest.raises(RuntimeError, match="deployment cf-warden-diego-cell1"):
        run.run_stage(STAGES["d3"])
    assert run.recorder.get("upgrade D3").outcome == "failed"
    assert ("stopped", "cf-warden-diego-cell2", "") not in d.calls  # D4 not stopped after a failed D3


def test_refuses_to_touch_deployments_it_did_not_create(tmp_path):
    run = make_run(tmp_path)
    run.prepare()
    with pytest.raises(RuntimeError, match="did not create"):
        run.run_op(Op("stop", "cell2"), "diego")
    d = FakeDirector(existing={"cf-warden": {}})
    run = make_run(tmp_path / "x", d)
    run.prepare()
    with pytest.raises(CheckFailed, match="already exist"):
        run.run_op(Op("deploy", "cf", "v0"), "setup")


def test_verify_versions_names_the_wrong_release(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)
    d.existing["cf-warden-diego-cell1"]["diego"] = "0.1433.0"
    with pytest.raises(CheckFailed, match=re.escape("cf-warden-diego-cell1: diego: expected 0.1434.0, saw 0.1433.0")):
        run.verify_versions(DEPLOY_V0)


def test_routability_reports_violations_of_the_stage(tmp_path):
    clock = [0.0]
    rec = StepRecorder(clock=lambda: clock[0], wall=lambda: 1.7e9 + clock[0])
    run = make_run(tmp_path, recorder=rec)
    run.poller = Poller("http://x/id", lambda *a: FetchResult(200, {}, "g"), recorder=rec, clock=lambda: clock[0])
    st = rec.begin("upgrade D1", "diego")
    clock[0] = 2.0
    rec.end(st)
    for i in range(20):
        bad = i in (5, 6, 7)
        run.poller.record(Sample(seq=i, wall=1.7e9 + i * 0.1, mono=i * 0.1, status=502 if bad else 200,
                                 error="endpoint_failure" if bad else None))
    r = run.routability(STAGES["d1"])
    assert len(r.violations) == 1 and r.summary["failed"] == 3
    msg = r.message()
    assert "A0 lost its route during 'upgrade D1'" in msg and "endpoint_failure x3" in msg
    with pytest.raises(RuntimeError, match="never ran"):
        run.routability(STAGES["d3"])


def test_preflight_counts_deployments_this_run_created_as_ours(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)  # e.g. the smoke suite earlier in the same session
    assert all(v.ok for v in run.preflight())
    other = make_run(tmp_path / "other", d)  # a different run sees them as pre-existing
    with pytest.raises(CheckFailed, match="already exist"):
        other.preflight()
