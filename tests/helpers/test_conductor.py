"""The conductor: each story step's operations, then checks and judgements, concurrently,
kept as data; against tests/fakes.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fakes import CELL_IPS, FakeCC, FakeDirector, fake_manifests

from helpers import story
from helpers.a0 import A0
from helpers.after_checks import ScaleCheck, SmokeCheck, expected_placement
from helpers.conductor import Conductor, StepOrderError
from helpers.driver import Driver, StepFailed
from helpers.observers import Observer, ObserverContext
from helpers.prober import LoopProber
from helpers.record import RunRecord
from helpers.steps import StepRecorder
from helpers.verdicts import CheckFailed, Verdict

V0_DIEGO, VP_DIEGO = "0.1434.0", "0.1454.0"
D3, D4 = "cf-warden-diego-cell1", "cf-warden-diego-cell2"

# issue 4: "after V0 and D1, either cell; after D3, only D3 (V-prime); after D2 and after CF,
# only D4 (still V0); after D4, both (V-prime)"
PLACEMENT_TABLE = {
    "deploy V0": {D3: V0_DIEGO, D4: V0_DIEGO},
    "upgrade D1": {D3: V0_DIEGO, D4: V0_DIEGO},
    "upgrade D3": {D3: VP_DIEGO},
    "upgrade D2": {D4: V0_DIEGO},
    "upgrade CF": {D4: V0_DIEGO},
    "upgrade D4": {D3: VP_DIEGO, D4: VP_DIEGO},
}


class Always(Observer):
    name = "always"
    title = "always"
    OPTIONS = {"interval": 0.02}

    def make_prober(self, ctx: ObserverContext) -> LoopProber:
        return LoopProber(self.name, lambda sample: None, interval=self.options["interval"])


class Slow:
    """An after-step check that takes `seconds`."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name, self.seconds, self.ran = name, seconds, []

    def applies(self, step: story.Step) -> bool:
        return True

    def run(self, step: story.Step) -> list[Verdict]:
        self.ran.append((step.id, threading.current_thread().name))
        time.sleep(self.seconds)
        return [Verdict(True, self.name, step.title, "x", "fine")]


def rig(tmp_path: Path, checks=None, observers=(), cf_ready=None):
    director, cc = FakeDirector(), FakeCC()
    manifests = fake_manifests(tmp_path / "m")
    record = RunRecord(tmp_path / "run-state.json")
    rec = StepRecorder()
    driver = Driver(director, manifests, record, rec)

    def running_cell() -> str:
        return next(CELL_IPS[n[-5:]] for n in (D3, D4) if director.state.get(n) == "started")

    cc.place = running_cell
    a0 = A0(new_cf=lambda: cc, http=cc.http, app_dir=tmp_path, timeout=lambda n: 0.5, record=record)
    if checks is None:
        smoke = SmokeCheck(new_cf=lambda: cc, director=director, manifests=manifests, http=cc.http,
                           recent_logs=cc.recent_logs, ssh_exec=cc.ssh_exec, resolver=None, app_dir=tmp_path,
                           space_guid=lambda: "space", run_id=record.run_id, timeout=lambda n: 0.5, recorder=rec)
        checks = [smoke, ScaleCheck(a0, rec)]

    def context(a0: A0) -> ObserverContext:
        return ObserverContext(new_cf=lambda **kw: cc, http_session=lambda *a: None, resolver=None, a0=a0.app,
                               a0_url=a0.url or "", space_guid="space", app_dir=tmp_path, run_id=record.run_id,
                               recorder=rec, timeout=lambda n: 1.0, record=record)

    conductor = Conductor(driver=driver, record=record, recorder=rec, a0=a0, observers=list(observers),
                          checks=checks, context=context, cf_ready=cf_ready, manifests=manifests)
    return conductor, director, cc, record


def test_the_whole_story_with_checks_and_a_measurement_kept_as_data(tmp_path):
    ready = []
    obs = Always()
    conductor, _, _, record = rig(tmp_path, observers=[obs], cf_ready=ready.append)
    try:
        for st in story.STORY:
            conductor.operate(st)
            assert all(v.ok for v in conductor.verify_versions(st))
            after = conductor.after(st)
            assert all(c.ok for c in after.checks.values()), {n: c.message for n, c in after.checks.items()}
            if st is story.DEPLOY_V0:
                assert set(after.checks) == {"smoke"} and after.measurements == {}
                conductor.push_a0("space")
                assert conductor.start_observers()["always"].ok
            else:
                assert set(after.checks) == {"smoke", "scale"}
                assert after.measurements["always"].outcome == "passed"
    finally:
        conductor.stop_observers()
    assert ready == [story.UPGRADE_CF]  # the CF API was awaited after the CF step only
    saved = record.snapshot()["steps"]
    assert saved["d3"]["outcome"] == "passed" and saved["d3"]["checks"]["smoke"]["ok"]
    assert saved["d3"]["measurements"]["always"]["outcome"] == "passed"
    assert saved["v0"]["observers"]["always"]["ok"]
    placements = [v for v in record.snapshot()["steps"]["d2"]["checks"]["smoke"]["verdicts"]
                  if v["check"] == "placement"]
    assert (placements and placements[0]["details"]["where"] == {"0": D4, "1": D4}) or \
        placements[0]["details"]["where"] == {0: D4, 1: D4}


def test_after_step_checks_run_together_so_the_time_between_steps_is_the_longest(tmp_path):
    a, b = Slow("smoke", 0.4), Slow("scale", 0.4)
    conductor, *_ = rig(tmp_path, checks=[a, b])
    conductor.operate(story.DEPLOY_V0)
    started = time.monotonic()
    after = conductor.after(story.DEPLOY_V0)
    took = time.monotonic() - started
    assert took < 0.75, f"the checks ran one after the other ({took:.2f}s)"
    assert a.ran[0][1] != b.ran[0][1]  # on two threads
    assert conductor.after(story.DEPLOY_V0) is after and len(a.ran) == 1  # once per step


def test_a_failed_check_is_data_naming_the_step_and_its_siblings_still_report(tmp_path):
    class Broken(Slow):
        def run(self, step):
            raise CheckFailed(Verdict(False, "instances running", step.title, "smoke-x", "instance 1 is CRASHED"))

    other = Slow("scale", 0.0)
    conductor, *_ = rig(tmp_path, checks=[Broken("smoke", 0), other])
    conductor.operate(story.DEPLOY_V0)
    after = conductor.after(story.DEPLOY_V0)
    assert not after.checks["smoke"].ok
    assert after.checks["smoke"].message == "[deploy V0] instances running FAILED: instance 1 is CRASHED"
    assert after.checks["scale"].ok
    assert conductor.record.step_data("v0")["outcome"] == "failed"


def test_a_failed_operation_is_recorded_and_raised(tmp_path):
    conductor, director, *_ = rig(tmp_path, checks=[])
    conductor.operate(story.DEPLOY_V0)
    director.fail_on = "deploy cf-warden-diego-database"
    with pytest.raises(StepFailed, match=r"\[upgrade D1\] deploy D1 at V-prime"):
        conductor.operate(story.UPGRADE_D1)
    assert conductor.record.step_data("d1")["outcome"] == "failed"
    assert conductor.recorder.get("upgrade D1").outcome == "failed"


def test_a_failed_steps_message_in_the_record_is_redacted(tmp_path, monkeypatch):
    """The private record is kept as it is (owner-only): a step's message must already be redacted."""
    from helpers.redaction import REDACTOR

    secret = "s3cr3t-" + "9f" * 20
    REDACTOR.register(secret)
    conductor, *_ = rig(tmp_path, checks=[])

    def boom(step):
        raise RuntimeError(f"deploy failed: password={secret} and {secret}" + "x" * 3000)

    monkeypatch.setattr(conductor.driver, "run", boom)
    with pytest.raises(RuntimeError):
        conductor.operate(story.DEPLOY_V0)
    message = conductor.record.step_data("v0")["message"]
    assert secret not in message and secret not in (tmp_path / "run-state.json").read_text()
    assert message.startswith("deploy failed: password=[REDACTED]")


def test_versions_check_names_the_wrong_release(tmp_path):
    conductor, director, *_ = rig(tmp_path, checks=[])
    conductor.operate(story.DEPLOY_V0)
    director.existing[D3]["diego"] = "0.1433.0"
    with pytest.raises(CheckFailed, match=f"{D3}: diego: expected 0.1434.0, saw 0.1433.0"):
        conductor.verify_versions(story.DEPLOY_V0)


def test_smoke_cells_and_diego_versions_follow_the_issue_table(tmp_path):
    manifests = fake_manifests(tmp_path)
    for st in story.STORY:
        cells, allowed, expected = expected_placement(st, manifests)
        assert cells == [D3, D4]
        assert set(allowed) == set(PLACEMENT_TABLE[st.title]) and expected == PLACEMENT_TABLE[st.title], st.title


def test_a_later_step_alone_is_refused_before_any_bosh_operation(tmp_path):
    conductor, director, *_ = rig(tmp_path, checks=[])
    with pytest.raises(StepOrderError) as info:
        conductor.operate(story.UPGRADE_D3)
    message = str(info.value)
    assert "step 'upgrade D3' cannot start: 'deploy V0', 'upgrade D1' did not run" in message
    assert "Nothing was changed" in message and director.calls == []
    conductor.operate(story.DEPLOY_V0)
    with pytest.raises(StepOrderError, match="'upgrade D1' did not run"):
        conductor.operate(story.UPGRADE_D3)
    conductor.operate(story.UPGRADE_D1)
    conductor.operate(story.UPGRADE_D3)  # in order, it runs
    assert ("stopped", D4) in director.calls
