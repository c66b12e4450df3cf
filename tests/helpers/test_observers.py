"""Observers: policies per step, judging a step, the lifecycle, the registry."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from helpers import story
from helpers.observers import REGISTRY, Observer, ObserverContext, Policies, StepPolicy
from helpers.observers.judge import judge
from helpers.prober import LoopProber, Prober
from helpers.samples import Sample, outage_windows
from helpers.steps import StepRecorder


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mk(seq: int, ok: bool, t0: float = 1000.0, interval: float = 0.1) -> Sample:
    return Sample(seq=seq, wall=1.7e9 + seq * interval, mono=t0 + seq * interval, status=200 if ok else 502,
                  error=None if ok else "endpoint_failure", measurement="a0_routable")


def pattern(p: str, t0: float = 1000.0) -> list[Sample]:
    out = []
    for i, c in enumerate(p):
        s = mk(i, c == ".", t0)
        if c == "?":
            s.error, s.conclusive, s.detail = "emit_failed", False, "A0 did not take the log line (unknown_route 404)"
        out.append(s)
    return out


def recorded(spec: list[tuple[str, str, float, float]]) -> StepRecorder:
    """spec: (title, kind, start, end); story steps get data.story like the conductor's."""
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    for title, kind, start, end in spec:
        clock.t = start
        st = rec.begin(title, kind, {"story": title.split()[-1].lower()})
        clock.t = end
        rec.end(st)
    clock.t = 10_000
    return rec


def judged(samples: list[Sample], rec: StepRecorder, title: str, policies: Policies | None = None):
    policies = policies or Policies()
    return judge(rec.get(title), samples, outage_windows(samples, 0.1, rec), recorder=rec, policies=policies,
                 interval=0.1, measurement="a0_routable", title="A0 routable",
                 headline=f"A0 lost its route during {title!r}")


# ------------------------------------------------------------------ policies


def test_default_policies_by_kind_and_overrides_by_title_then_kind():
    p = Policies()
    assert p.for_step("upgrade D1", "diego") == StepPolicy(True, 0.0)
    assert not p.for_step("upgrade CF", "cf").enforce and not p.for_step("smoke", "setup").enforce
    p = Policies.from_config({"upgrade D3": {"max_outage": 2}, "cf": {"enforce": True}})
    assert p.for_step("upgrade D3", "diego") == StepPolicy(True, 2.0)
    assert p.for_step("upgrade CF", "cf").enforce
    assert p.for_step("upgrade D1", "diego") == StepPolicy(True, 0.0)


# ------------------------------------------------------------------ judging one step


def test_only_enforced_steps_that_overlap_fail():
    samples = pattern("....xx......xx.....")
    rec = recorded([("upgrade D1", "diego", 1000.3, 1000.7), ("upgrade CF", "cf", 1001.0, 1001.5)])
    d1 = judged(samples, rec, "upgrade D1")
    assert d1.outcome == "failed" and len(d1.violations) == 1 and d1.violations[0].failed_samples == 2
    assert d1.message.startswith("A0 lost its route during 'upgrade D1' (no BOSH task ran): 1 outage window(s) "
                                 "broke the policy")
    cf = judged(samples, rec, "upgrade CF")
    assert cf.outcome == "recorded" and cf.ok and not cf.violations and len(cf.windows) == 1


def test_an_outage_born_in_the_cf_step_is_exempt_in_the_next_diego_step_until_it_ends():
    samples = pattern("..xxxxxxx....x..")
    rec = recorded([("upgrade CF", "cf", 1000.0, 1000.45), ("upgrade D4", "diego", 1000.5, 1002.0)])
    d4 = judged(samples, rec, "upgrade D4")
    # the CF-born window is exempt; the later one (seq 13) is not
    assert len(d4.violations) == 1 and d4.violations[0].first_fail_mono == pytest.approx(1001.3)


def test_max_outage_tolerates_short_windows():
    samples = pattern("..x.....xxxxxx..")
    rec = recorded([("upgrade D3", "diego", 1000.0, 1002.0)])
    assert len(judged(samples, rec, "upgrade D3").violations) == 2  # default: any failed sample counts
    tolerant = judged(samples, rec, "upgrade D3", Policies.from_config({"upgrade D3": {"max_outage": 0.3}}))
    (v,) = tolerant.violations
    assert v.failed_samples == 6


def test_every_failure_names_the_steps_bosh_tasks():
    """Issue 12: the routability failure did not name the BOSH task ids when its outage window
    overlapped none (the route went after the task ended); now every failure names the step's."""
    samples = pattern("....xx.......")
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    clock.t = 1000.0
    step = rec.begin("upgrade D3", "diego", {"story": "d3"})
    for task, (start, end) in ((11, (1000.0, 1000.1)), (12, (1000.1, 1000.2))):
        clock.t = start
        op = rec.begin(f"op {task}", "diego", {"in": "d3", "task": task})
        clock.t = end
        rec.end(op)
    clock.t = 1001.2
    rec.end(step)
    m = judged(samples, rec, "upgrade D3")
    assert m.violations and not m.violations[0].tasks  # the window itself overlaps no task
    assert m.message.startswith("A0 lost its route during 'upgrade D3' (BOSH tasks 11, 12): 1 outage window(s)")
    stalled = judged(pattern(".."), rec, "upgrade D3")
    assert stalled.message.startswith("A0 routable was not measured during 'upgrade D3' (BOSH tasks 11, 12): ")


def test_counts_per_step():
    samples = pattern("....xx....")
    rec = recorded([("upgrade D1", "diego", 1000.3, 1000.65)])
    m = judged(samples, rec, "upgrade D1")
    assert (m.attempted, m.failed, len(m.windows), m.expected) == (4, 2, 1, 3)


def test_a_step_without_enough_samples_fails_as_not_measured():
    samples = pattern("...")  # the prober stalled after 0.3 s of a 2 s step
    rec = recorded([("upgrade D1", "diego", 1000.0, 1002.0)])
    m = judged(samples, rec, "upgrade D1")
    assert m.outcome == "failed" and not m.violations
    assert "A0 routable was not measured during 'upgrade D1' (no BOSH task ran): 3 conclusive sample(s)" in m.message
    assert "(expected about 20, one every 0.1s)" in m.message
    assert judged(pattern("." * 20), rec, "upgrade D1").outcome == "passed"


def test_a_step_shorter_than_one_interval_needs_one_sample():
    rec = recorded([("upgrade D1", "diego", 1000.12, 1000.15)])
    assert judged(pattern(".."), rec, "upgrade D1").outcome == "failed"  # no sample inside
    assert judged(pattern(".."), rec, "upgrade D1").expected == 0
    kicked = [*pattern(".."), Sample(9, 1.7e9, 1000.13, status=200, measurement="a0_routable")]
    assert judged(kicked, rec, "upgrade D1").outcome == "passed"


def test_a_step_measured_only_inconclusively_is_unmeasured_with_the_reason():
    samples = pattern("..??????????????????????..")
    rec = recorded([("upgrade D3", "diego", 1000.2, 1002.2)])
    m = judged(samples, rec, "upgrade D3")
    assert m.outcome == "unmeasured" and not m.ok
    assert "could not measure: emit_failed x" in m.message and "unknown_route 404" in m.message


def test_a_skipped_step_is_not_judged():
    samples = pattern("..xxxx..")
    rec = recorded([("upgrade D2", "diego", 1000.3, 1000.3)])
    assert judged(samples, rec, "upgrade D2").outcome == "failed"
    rec.get("upgrade D2").outcome = "skipped"
    assert judged(samples, rec, "upgrade D2").outcome == "passed"


def test_failure_message_names_measurement_step_tasks_and_windows():
    clock = Clock(1000.0)
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    st = rec.begin("upgrade D3", "diego", {"story": "d3"})
    op = rec.begin("stop D4 (cf-warden-diego-cell2)", "diego", {"task": 8})
    clock.t = 1001.0
    rec.end(op)
    rec.end(st)
    clock.t = 2000.0
    m = judged(pattern("...xxx...."), rec, "upgrade D3")
    assert m.tasks == [8]
    verdict = m.to_verdict()
    assert not verdict.ok and verdict.check == "A0 routable" and verdict.step == "upgrade D3"
    assert "(BOSH task 8)" in m.message and "endpoint_failure x3" in m.message and "outage at" in m.message


# ------------------------------------------------------------------ the lifecycle


class Toggle(Observer):
    """The smallest observer: succeeds while `healthy` is set."""

    name = "toggle"
    title = "toggle"
    OPTIONS = {"interval": 0.02}

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.healthy = threading.Event()
        self.healthy.set()
        self.prepared = self.cleaned = False

    def prepare(self, ctx: ObserverContext) -> None:
        self.prepared = True

    def make_prober(self, ctx: ObserverContext) -> Prober:
        def attempt(sample: Sample) -> None:
            if not self.healthy.is_set():
                sample.error = "broken"

        return LoopProber(self.name, attempt, interval=self.options["interval"])

    def cleanup(self) -> None:
        self.cleaned = True


def context(rec: StepRecorder, route_ready: float = 2.0) -> ObserverContext:
    said: list[str] = []
    ctx = ObserverContext(new_cf=lambda **kw: None, http_session=lambda *a: None, resolver=None, a0=None,
                          a0_url="http://a0.bosh-lite.com", space_guid="s", app_dir=Path("."), run_id="r",
                          recorder=rec, timeout=lambda name: route_ready, say=said.append)
    ctx.said = said  # type: ignore[attr-defined]
    return ctx


def run_step(rec: StepRecorder, obs: Observer, step: story.Step, during: float, broken: tuple[float, float] = ()):
    with rec.step(step.title, step.kind, {"story": step.id}):
        obs.during(step)
        if broken:
            time.sleep(broken[0])
            obs.healthy.clear()  # type: ignore[attr-defined]
            time.sleep(broken[1])
            obs.healthy.set()  # type: ignore[attr-defined]
        time.sleep(during)


def test_lifecycle_setup_during_after_teardown():
    rec = StepRecorder()
    obs = Toggle()
    ctx = context(rec)
    started = obs.setup(ctx)
    assert started.ok and obs.prepared
    try:
        run_step(rec, obs, story.UPGRADE_D1, 0.2)
        (ok,) = obs.after(story.UPGRADE_D1)
        assert ok.ok and obs.results["d1"].outcome == "passed"
        run_step(rec, obs, story.UPGRADE_D3, 0.2, broken=(0.05, 0.15))
        (bad,) = obs.after(story.UPGRADE_D3)
        assert not bad.ok and "toggle failed during 'upgrade D3'" in bad.message
        assert any("toggle | failing (broken)" in line for line in ctx.said)  # type: ignore[attr-defined]
        assert any("toggle | back after about" in line for line in ctx.said)  # type: ignore[attr-defined]
    finally:
        obs.teardown()
    assert obs.cleaned and not obs.prober.running
    summary = obs.summary()
    assert summary["failed"] >= 1 and summary["windows"] == 1 and summary["cpu_seconds"] >= 0


def test_after_a_recorded_step_the_measurement_must_work_again():
    rec = StepRecorder()
    obs = Toggle()
    obs.setup(context(rec, route_ready=0.3))
    try:
        with rec.step("upgrade CF", "cf", {"story": "cf"}):
            obs.during(story.UPGRADE_CF)
            obs.healthy.clear()
            time.sleep(0.1)
        (v,) = obs.after(story.UPGRADE_CF)  # never healthy again
        assert not v.ok
        assert "toggle did not succeed again within 0s after 'upgrade CF'" in v.message
        obs.healthy.set()
        time.sleep(0.1)
        (v,) = obs.after(story.UPGRADE_CF)
        assert v.ok and obs.results["cf"].outcome == "recorded"
    finally:
        obs.teardown()


def test_setup_says_what_it_saw_when_the_first_attempt_never_succeeds():
    rec = StepRecorder()
    obs = Toggle()
    obs.healthy.clear()
    v = obs.setup(context(rec, route_ready=0.2))
    obs.teardown()
    assert not v.ok and "toggle never succeeded within 0s of starting" in v.message
    assert "failed, the last one broken" in v.message


def test_options_and_policies_come_from_the_config_section():
    obs = Toggle({"interval": 0.5, "policy": {"diego": {"enforce": False}}, "enabled": True})
    assert obs.options == {"interval": 0.5}
    assert not obs.policies.for_step("upgrade D3", "diego").enforce


# ------------------------------------------------------------------ the registry


def test_the_registry_lists_every_measurement_once_with_its_options():
    assert REGISTRY.names() == ["a0_routable", "push", "a0_recent_logs", "a0_log_stream", "a0_ssh"]
    assert "interval" in REGISTRY.options()["a0_routable"]
    built = REGISTRY.build({"push": {"enabled": False}, "a0_ssh": {"interval": 5}})
    assert [o.name for o in built] == ["a0_routable", "a0_recent_logs", "a0_log_stream", "a0_ssh"]
    assert built[-1].options["interval"] == 5.0


def test_a_policy_set_for_a_story_step_governs_the_operations_inside_it():
    clock = Clock(1000.0)
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    st = rec.begin("upgrade CF", "cf", {"story": "cf"})
    op = rec.begin("deploy CF at V-prime (cf-warden)", "cf", {"task": 12})
    clock.t = 1002.0
    rec.end(op)
    rec.end(st)
    samples = pattern("....." + "x" * 5 + "." * 10)
    assert judged(samples, rec, "upgrade CF").outcome == "recorded"
    enforced = judged(samples, rec, "upgrade CF", Policies.from_config({"upgrade CF": {"enforce": True}}))
    assert enforced.outcome == "failed" and enforced.tasks == [12]
    assert "A0 lost its route during 'upgrade CF'" in enforced.message


def test_push_and_ssh_record_the_steps_that_take_their_single_instance_components_away():
    from helpers.observers.push import PushAbility
    from helpers.observers.ssh import A0Ssh

    for cls in (PushAbility, A0Ssh):
        p = cls().policies
        assert not p.for_step("upgrade D1", "diego").enforce and not p.for_step("upgrade D2", "diego").enforce
        assert p.for_step("upgrade D3", "diego").enforce and p.for_step("upgrade D4", "diego").enforce
        # the config still decides: by title, or for every Diego step by kind
        assert cls({"policy": {"upgrade D2": {"enforce": True}}}).policies.for_step("upgrade D2", "diego").enforce
        assert cls({"policy": {"diego": {"enforce": True}}}).policies.for_step("upgrade D1", "diego").enforce
    assert REGISTRY.get("a0_routable")().policies.for_step("upgrade D2", "diego").enforce
