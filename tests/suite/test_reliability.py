"""The suite catches what it must: proven by running it against a simulator with faults.

Each test runs `suites/upgrade_stable` (or the start of it) in a child pytest against its own
simulator, injects a fault when a given step starts or ends (faultplugin.py), and checks the
suite's verdicts: which test failed, with what story, and that later steps were skipped with
a reason naming the failed step.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from harness import HERE, REPO, run_suite

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SUITE = "suites/upgrade_stable"
MODULE = f"{SUITE}/test_upgrade_from_stable.py"
UP_TO_D1 = [f"{MODULE}::TestPreflight", f"{MODULE}::TestDeployV0", f"{MODULE}::TestUpgradeD1"]


def skipped_reasons(output: str) -> list[str]:
    return re.findall(r"SKIPPED \[\d+\] [^:]+:\d+: (.*)", output)


def test_a0_outage_in_a_diego_step_fails_that_step_only_and_cf_outage_is_ignored(sim_factory, tmp_path):
    """A 0.3 s route outage at the start of D3 and of CF. Steps only get longer under load
    (the fast profile's D3 is a deploy and a stop, >= 1 s), so the outage never covers a whole
    step: the step keeps routable samples around its window."""
    _, config = sim_factory()
    outage = {"kind": "route_outage", "target": "{a0}", "duration": 0.3, "params": {"status": 502}}
    junit = tmp_path / "junit.xml"
    run = run_suite([SUITE], config=config, artifacts=tmp_path / "art",
                    faults=[{"at": "upgrade D3", **outage}, {"at": "upgrade CF", **outage}],
                    extra=["--junitxml", str(junit)])
    assert run.returncode == 1, run.output[-3000:]
    # --junitxml: the failed observation with its story, and the per-step sample counts as properties
    xml = ElementTree.parse(junit).getroot()
    props = {p.get("name"): p.get("value") for p in xml.iter("property")}
    assert int(props["a0_routable_d3_failed"]) >= 1
    assert int(props["a0_routable_d3_attempted"]) > int(props["a0_routable_d3_failed"])
    assert {f"a0_routable_{s}_attempted" for s in ("d1", "d3", "d2", "cf", "d4")} <= set(props)
    failures = {c.get("name"): c.find("failure") for c in xml.iter("testcase")}
    assert "A0 lost its route during 'upgrade D3'" in failures["test_a0_routable_during_upgrade_d3"].get("message")
    assert sum(f is not None for f in failures.values()) == 1
    outcome, message = run.outcome("test_a0_routable_during_upgrade_d3")
    assert outcome == "failed"
    assert "A0 lost its route during 'upgrade D3'" in message and "endpoint_failure" in message
    assert re.search(r"\(BOSH tasks? \d+", message)  # the window names the task(s) running then
    # the CF outage is measured, not enforced; every other test passed
    assert run.outcome("test_a0_routable_during_upgrade_cf")[0] == "passed"
    report = run.report
    failed = [r["nodeid"] for r in report["results"] if r["outcome"] != "passed"]
    assert failed == [f"{MODULE}::TestUpgradeD3::test_a0_routable_during_upgrade_d3"]
    cf_windows = [w for w in report["outage_windows"] if "upgrade CF" in w["steps"]
                  and w["measurement"] == "a0_routable"]
    assert cf_windows and any(w["errors"].get("endpoint_failure") for w in cf_windows)
    d3 = next(s for s in report["story"] if s["title"] == "upgrade D3")
    violations = d3["measurements"]["a0_routable"]["violations"]
    assert violations and 0.15 <= violations[0]["duration"] <= 1.0  # the injected 0.3 s
    assert (tmp_path / "art" / "timeline.html").is_file()
    assert (tmp_path / "art" / "samples.jsonl").stat().st_size > 0


def test_failed_bosh_task_names_deployment_task_and_message_and_skips_later_steps(sim_factory, tmp_path):
    _, config = sim_factory()
    run = run_suite([SUITE], config=config, artifacts=tmp_path / "art", faults=[
        {"at": "upgrade D3", "kind": "fail_next_task", "target": "cf-warden-diego-cell1",
         "params": {"message": "injected: cell_z1/0 failed to start"}}])
    assert run.returncode == 1
    outcome, message = run.outcome("test_upgrade_d3_then_stop_d4")
    assert outcome == "failed"
    assert "cf-warden-diego-cell1" in message and re.search(r"task \d+", message)
    assert "injected: cell_z1/0 failed to start" in message
    reasons = skipped_reasons(run.output)
    assert reasons and all("step 'upgrade D3' failed" in r for r in reasons), reasons
    later = [r for r in run.report["results"] if "TestUpgradeD2" in r["nodeid"] or "TestUpgradeD4" in r["nodeid"]]
    assert later and all(r["outcome"] == "skipped" for r in later)
    # D4 was never stopped after the failed D3 deploy
    assert not any(s["name"].startswith("stop D4") for s in run.report["steps"])


def test_cancelled_bosh_task_fails_the_step(sim_factory, tmp_path):
    _, config = sim_factory()
    run = run_suite(UP_TO_D1, config=config, artifacts=tmp_path / "art", faults=[
        {"at": "upgrade D1", "kind": "cancel_next_task", "target": "cf-warden-diego-database"}])
    outcome, message = run.outcome("test_upgrade_d1")
    assert outcome == "failed" and "cancelled" in message and "cf-warden-diego-database" in message
    assert run.outcome("test_a0_scales_1_2_1")[0] == "skipped"


def test_crashed_a0_instance_during_a_diego_step_is_an_outage(sim_factory, tmp_path):
    _, config = sim_factory()
    run = run_suite(UP_TO_D1, config=config, artifacts=tmp_path / "art", faults=[
        {"at": "upgrade D1", "kind": "kill_instance", "target": "{a0}", "params": {"index": 0}}])
    outcome, message = run.outcome("test_a0_routable_during_upgrade_d1")
    assert outcome == "failed", run.output[-3000:]
    assert "A0 lost its route during 'upgrade D1'" in message


@pytest.mark.parametrize("fault,expected", [
    ("break_logs", "no log line 'nonce <n> index <i>'"),
    ("break_ssh", "smoke-"),
])
def test_missing_logs_and_broken_ssh_fail_the_smoke_test(sim_factory, tmp_path, fault, expected):
    _, config = sim_factory()
    run = run_suite(UP_TO_D1, config=config, artifacts=tmp_path / "art", faults=[
        {"at": "deploy V0", "when": "end", "kind": fault, "target": None, "duration": 300}])
    outcome, message = run.outcome("test_smoke_app_runs_routes_logs_ssh_on_either_cell_at_v0")
    assert outcome == "failed", run.output[-3000:]
    assert "[deploy V0]" in message and expected in message
    if fault == "break_ssh":
        assert "ssh FAILED" in message
    assert run.outcome("test_upgrade_d1")[0] == "skipped"


def test_pre_existing_deployment_stops_the_suite_untouched(sim_factory, tmp_path):
    from helpers.bosh import Director
    from helpers.config import load_config
    from manifests.generate import generate

    _, config = sim_factory()
    cfg = load_config(config)
    director = Director(cfg.bosh, cfg.resolver(), timeout=cfg.timeout)
    paths = generate("v0", director_uuid=director.uuid(), out=tmp_path / "m")
    director.deploy(paths["cell1"].read_text())
    before = director.deployment_manifest("cf-warden-diego-cell1")
    run = run_suite([SUITE], config=config, artifacts=tmp_path / "art")
    outcome, message = run.outcome("test_releases_and_stemcell_uploaded_and_no_deployment_exists")
    assert outcome == "failed"
    assert "cf-warden-diego-cell1 already exist" in message and "never deletes" in message
    assert run.report["tasks"] == []  # the run started no BOSH task at all
    assert director.deployment_manifest("cf-warden-diego-cell1") == before
    assert all("step 'preflight' failed" in r for r in skipped_reasons(run.output))


def test_missing_release_is_listed_before_anything_is_deployed(sim_factory, tmp_path):
    _, config = sim_factory(preload=("v0",))
    run = run_suite([SUITE], config=config, artifacts=tmp_path / "art")
    outcome, message = run.outcome("test_releases_and_stemcell_uploaded_and_no_deployment_exists")
    assert outcome == "failed"
    for missing in ("release cf/231", "release diego/0.1454.0", "release etcd/36"):
        assert missing in message
    assert run.report["tasks"] == []


def _config_problem_run(tmp_path: Path, config: Path) -> tuple[int, str]:
    run = run_suite([f"{MODULE}::TestPreflight"], config=config, artifacts=tmp_path / "art", timeout=120)
    return run.returncode, run.output


def test_bad_config_gives_one_clear_message(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"bosh": {"url": "https://192.168.50.4:25555", "pasword": "x"},
                                   "cf": {"api": "https://api.bosh-lite.com"}, "bogus": 1}))
    rc, out = _config_problem_run(tmp_path, bad)
    assert rc == 4
    assert out.count("invalid config") == 1 and "pasword" in out and "bogus" in out
    assert "Traceback" not in out


def test_wrong_credentials_give_one_clear_message_without_the_password(sim_factory, tmp_path):
    _, config = sim_factory()
    data = yaml.safe_load(config.read_text())
    data["bosh"]["password"] = "wrong-password-123"
    config.write_text(yaml.safe_dump(data))
    rc, out = _config_problem_run(tmp_path, config)
    assert rc == 70
    assert "director" in out and ("credentials" in out or "rejected" in out)
    assert "wrong-password-123" not in out and "Traceback" not in out


def test_unreachable_director_gives_one_clear_message(sim_factory, tmp_path):
    _, config = sim_factory()
    data = yaml.safe_load(config.read_text())
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    data["resolve"]["192.168.50.4:25555"] = f"127.0.0.1:{port}"
    config.write_text(yaml.safe_dump(data))
    rc, out = _config_problem_run(tmp_path, config)
    assert rc == 70
    assert out.count("cannot reach the BOSH director at https://192.168.50.4:25555") == 1


def _children(pid: int) -> set[int]:
    out = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        m = re.search(r"^PPid:\s+(\d+)", text, re.M)
        if m and int(m.group(1)) == pid:
            out.add(int(status.parent.name))
    return out


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in text


def test_interrupt_stops_poller_writes_report_deletes_org_and_leaves_no_process(tmp_path):
    """No config: the child run starts its own simulator; SIGINT during the D1 upgrade."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("CONFIG", None)
    env["PYTHONUNBUFFERED"] = "1"
    art = tmp_path / "art"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                             "--artifacts", str(art)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    children: set[int] = set()
    deadline = time.monotonic() + 180
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "==> [diego] upgrade D1" in line:
                children = _descendants(proc.pid)
                time.sleep(0.3)
                proc.send_signal(signal.SIGINT)
                break
            if time.monotonic() > deadline:
                break
        rest, _ = proc.communicate(timeout=90)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    assert children, "the child run had no simulator process when interrupted: " + out[-2000:]
    assert proc.returncode == 2, out[-3000:]
    report = yaml.safe_load((art / "report.json").read_text())
    assert report["meta"]["finished_because"] == "interrupted"
    assert report["outcome"] == "interrupted"  # the tests that passed before do not make a passed run
    assert report["measurements"]["a0_routable"]["attempted"] > 0  # measured, then stopped (summary written)
    assert "deleted the test org DUSTPY-" in out
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "processes left behind after Ctrl-C"
