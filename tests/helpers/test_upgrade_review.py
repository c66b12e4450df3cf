"""UpgradeRun against fakes: the placement table, CF recovery, failure messages, preflight.

Completes test_upgrade.py with what issue 4 spells out sentence by sentence: where the smoke
app may land after each step (and at which Diego version), that "A0 answers again after CF"
is proved by a sample taken after the CF step, that a failed BOSH operation names its step,
and that preflight reports every problem at once.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_upgrade import FakeDirector, make_run

from helpers.checks import CheckFailed
from helpers.poller import FetchResult, Poller, Sample
from helpers.steps import StepPolicy, StepRecorder
from helpers.upgrade import DEPLOY_V0, ORDER, STAGES, Routability, StepFailed

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


class CountingPoller:
    """The surface of Poller that UpgradeRun uses; samples are fed by the test."""

    running = True

    def __init__(self) -> None:
        self.samples_: list[Sample] = []
        self.asked: list[int] = []

    def add(self, ok: bool) -> None:
        seq = len(self.samples_)
        self.samples_.append(Sample(seq=seq, wall=1.7e9 + seq, mono=float(seq), status=200 if ok else 502,
                                    error=None if ok else "endpoint_failure"))

    @property
    def next_seq(self) -> int:
        return len(self.samples_)

    def samples(self) -> list[Sample]:
        return list(self.samples_)

    def wait_ok(self, timeout: float, since_seq: int = 0) -> Sample | None:
        self.asked.append(since_seq)
        return next((s for s in self.samples_ if s.ok and s.seq >= since_seq), None)


def test_smoke_cells_and_diego_versions_follow_the_issue_table(tmp_path):
    run = make_run(tmp_path, FakeDirector())
    for stage in [DEPLOY_V0] + [STAGES[i] for i in ORDER]:
        run.run_stage(stage) if stage.kind != "cf" else [run.run_op(op, "cf", stage.title) for op in stage.ops]
        allowed = {run.names[c] for c in stage.smoke_cells}
        assert allowed == set(PLACEMENT_TABLE[stage.title]), stage.title
        assert run.expected_diego(stage) == PLACEMENT_TABLE[stage.title], stage.title
        # and the fake director really runs those versions on those cells
        deployed = {n: r["diego"] for n, r in run.director.existing.items() if n in allowed}
        assert deployed == PLACEMENT_TABLE[stage.title], stage.title


def test_a0_back_after_cf_needs_a_sample_taken_after_the_cf_step(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)
    poller = CountingPoller()
    run.poller = poller
    run._cf_factory = lambda: SimpleNamespace(info=lambda refresh=False: {})
    for _ in range(3):
        poller.add(True)
    orig = d.deploy

    def deploy(manifest_yaml, on_event=None):
        poller.add(True)  # answered just as the CF deploy began ...
        for _ in range(5):
            poller.add(False)  # ... then the router went away and never came back
        return orig(manifest_yaml, on_event)

    d.deploy = deploy
    with pytest.raises(CheckFailed) as info:
        run.run_stage(STAGES["cf"])
    assert poller.asked == [9]
    msg = str(info.value)
    assert "[upgrade CF] A0 back after CF FAILED" in msg and "saw no sample)" in msg
    # once a sample after the step answers, enforcement may resume
    poller.add(False)
    poller.add(True)
    run.wait_cf_back(STAGES["cf"], 9)
    assert run.recorder.get("wait for CF and A0 after upgrade CF").outcome == "passed"


def test_failed_bosh_operation_names_step_operation_and_deployment(tmp_path):
    d = FakeDirector()
    run = make_run(tmp_path, d)
    run.run_stage(DEPLOY_V0)
    d.fail_on = f"stopped {D4}"
    with pytest.raises(StepFailed) as info:
        run.run_stage(STAGES["d3"])
    assert str(info.value).startswith(f"[upgrade D3] stop D4 of deployment {D4} failed: BOSH task 7 for deployment "
                                      f"{D4}")
    assert run.recorder.get("upgrade D3").outcome == "failed"
    assert run.recorder.get(f"stop D4 ({D4})").outcome == "failed"


def test_preflight_reports_missing_uploads_and_existing_deployments_together(tmp_path):
    d = FakeDirector(uploaded=[("cf", "220"), ("diego", "0.1434.0")], existing={D3: {}, "cf-warden": {}})
    with pytest.raises(CheckFailed) as info:
        make_run(tmp_path, d).preflight()
    msg = str(info.value)
    for missing in ("release cf/231", "release diego/0.1454.0", "release etcd/36", "release garden-linux/0.307.0"):
        assert missing in msg
    assert f"cf-warden, {D3} already exist" in msg and "never deletes" in msg
    assert d.calls == []  # nothing was touched


def test_unknown_timeout_name_is_an_error_not_a_silent_default(tmp_path):
    run = make_run(tmp_path)

    def timeout(name):
        raise KeyError(name)

    run.config.timeout = timeout
    with pytest.raises(KeyError):
        run.timeout("api_redy")


def test_a_step_the_poller_did_not_sample_fails_instead_of_passing_as_no_outage(tmp_path):
    clock = [0.0]
    rec = StepRecorder(clock=lambda: clock[0], wall=lambda: 1.7e9 + clock[0])
    run = make_run(tmp_path, recorder=rec)
    run.poller = Poller("http://x/id", lambda *a: FetchResult(200, {}, "g"), interval=0.1, recorder=rec,
                        clock=lambda: clock[0])
    st = rec.begin("upgrade D1", "diego")
    clock[0] = 2.0
    rec.end(st)
    for i in range(3):  # the poller stalled after 0.3 s of a 2 s step
        run.poller.record(Sample(seq=i, wall=1.7e9 + i * 0.1, mono=i * 0.1, status=200))
    r = run.routability(STAGES["d1"])
    assert not r.violations and r.expected_samples == 20
    assert "the A0 poller took 3 samples during 'upgrade D1' (expected about 20" in r.failure()
    for i in range(3, 20):
        run.poller.record(Sample(seq=i, wall=1.7e9 + i * 0.1, mono=i * 0.1, status=200))
    assert run.routability(STAGES["d1"]).failure() is None


def test_a_policy_set_for_a_stage_governs_the_operations_inside_it(tmp_path):
    clock = [0.0]
    rec = StepRecorder(clock=lambda: clock[0], wall=lambda: 1.7e9 + clock[0],
                       policies={"upgrade CF": StepPolicy(enforce=True)})
    d = FakeDirector()
    run = make_run(tmp_path, d, recorder=rec)
    run.run_stage(DEPLOY_V0)
    run.poller = Poller("http://x/id", lambda *a: FetchResult(200, {}, "g"), interval=0.1, recorder=rec,
                        clock=lambda: clock[0])
    run._cf_factory = lambda: SimpleNamespace(info=lambda refresh=False: {})
    orig = d.deploy

    def deploy(manifest_yaml, on_event=None):
        for i in range(20):  # 0.5 s of outage in the middle of the CF deploy
            clock[0] += 0.1
            bad = 5 <= i < 10
            run.poller.record(Sample(seq=i, wall=1.7e9 + clock[0], mono=clock[0], status=502 if bad else 200,
                                     error="endpoint_failure" if bad else None))
        return orig(manifest_yaml, on_event)

    d.deploy = deploy
    run.run_stage(STAGES["cf"])
    assert rec.get("deploy CF at V-prime (cf-warden)").policy.enforce
    r = run.routability(STAGES["cf"])
    assert len(r.violations) == 1 and "A0 lost its route during 'upgrade CF'" in r.failure()


def test_poller_that_never_sees_a0_names_what_it_saw(tmp_path):
    run = make_run(tmp_path)
    run.a0 = SimpleNamespace(guid="g")
    poller = CountingPoller()
    poller.url = "http://a0.bosh-lite.com/id"
    poller.start = lambda: poller
    for _ in range(4):
        poller.add(False)
    run.poller_factory = lambda url: poller
    run._cf_factory = lambda: SimpleNamespace(app_url=lambda app: "http://a0.bosh-lite.com")
    with pytest.raises(CheckFailed) as info:
        run.start_poller()
    assert ("[deploy V0] poller FAILED: the A0 poller never saw a routable answer from http://a0.bosh-lite.com/id "
            "within 1s (saw 4 sample(s), 4 failed, the last one endpoint_failure 502)") in str(info.value)


@pytest.mark.parametrize("expected,attempted,undersampled", [
    (0, 0, False),  # a step shorter than one interval
    (1, 0, True), (1, 1, False), (20, 9, True), (20, 10, False)])
def test_undersampled_threshold(expected, attempted, undersampled):
    r = Routability("upgrade D1", [], [], {"attempted": attempted, "interval": 0.1}, expected)
    assert r.undersampled is undersampled
