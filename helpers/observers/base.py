"""The observer lifecycle: set up, observe during every step, judge after it, tear down.

Kubernetes' upgrade tests give every workload `Setup`, `Test(during, until done)` and
`Teardown`; uptimer measures several capabilities continuously during one deploy. Here an
observer is one user-visible capability measured through the whole piecewise upgrade:

* `setup(ctx)` creates what it needs (in the run's space, recorded as the run's) and starts
  its continuous prober; the returned verdict says whether the first attempt succeeded;
* `during(step)` is called as each story step's operations begin: the prober is kicked so
  that even a step shorter than the measurement's interval has a sample;
* `after(step)` waits for the attempts that began during the step, judges the step under the
  observer's policy for it (`judge.py`) and returns the verdicts; after a step whose policy
  only records (the CF step) it also waits until the capability works again;
* `teardown()` stops the prober and deletes what `setup` created.

A concrete observer only says how to prepare (`prepare`), how to build its prober
(`make_prober`) and how to clean up; `docs/observers.md` shows the smallest one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from helpers import story
from helpers.observers.judge import StepMeasurement, judge, naming_tasks, step_tasks
from helpers.observers.policy import Policies, StepPolicy
from helpers.prober import Prober
from helpers.record import RunRecord
from helpers.samples import OutageWindow, Sample, outage_windows
from helpers.steps import StepRecorder
from helpers.verdicts import Verdict


@dataclass
class ObserverContext:
    """What an observer may use, built once per run by the suite's fixtures."""

    new_cf: Callable[..., Any]  # new_cf(timeout=None) -> a logged-in CF client of its own
    http_session: Callable[..., Any]  # (connect, read, pool=10) -> a session through the resolve map, no retries
    resolver: Any
    a0: Any  # the long-lived app of the stories (helpers.cf.App), pushed after V0
    a0_url: str  # its route, e.g. http://a0-1234abcd.bosh-lite.com
    space_guid: str
    app_dir: Path  # the probe app
    run_id: str
    recorder: StepRecorder
    timeout: Callable[[str], float]  # the config's named, scaled timeouts
    sink: Callable[[Sample], None] | None = None  # samples.jsonl
    say: Callable[[str], None] = field(default=lambda text: None)  # a live line on the terminal
    record: RunRecord | None = None
    scale: float = 1.0  # the config's timeout_scale (for observers' own time options)


class Observer(ABC):
    """Base class of every continuous measurement; see the module docstring."""

    name: ClassVar[str]  # registry key, config key, test names: test_<name>_during_<step>
    title: ClassVar[str]  # how reports name it: "A0 routable"
    about: ClassVar[str] = "A0"  # the app its verdicts are about
    OPTIONS: ClassVar[dict[str, float]] = {}  # option -> default; configurable as observers.<name>.<option>
    # step title -> policy, where the stories' topology cannot keep the capability up (say why)
    STEP_POLICIES: ClassVar[dict[str, StepPolicy]] = {}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        raw = dict(options or {})
        self.policies = Policies.from_config(raw.pop("policy", None), self.STEP_POLICIES)
        raw.pop("enabled", None)
        self.options: dict[str, float] = {**self.OPTIONS, **{k: float(v) for k, v in raw.items()}}
        self.ctx: ObserverContext | None = None
        self.prober: Prober | None = None
        self.results: dict[str, StepMeasurement] = {}  # story step id -> judgement

    # -- what a concrete observer provides ------------------------------------------------

    def prepare(self, ctx: ObserverContext) -> None:
        """Create what the measurement needs (apps, clients); default: nothing."""
        return None

    @abstractmethod
    def make_prober(self, ctx: ObserverContext) -> Prober:
        """The continuous prober (FixedRateProber or LoopProber) whose attempt measures."""

    def cleanup(self) -> None:
        """Delete what `prepare` created; default: nothing."""
        return None

    def headline(self, step: str) -> str:
        """The first words of a failure: "<title> failed during 'upgrade D3'"."""
        return f"{self.title} failed during {step!r}"

    def start_timeout(self, ctx: ObserverContext) -> float:
        return ctx.timeout("route_ready")

    # -- the lifecycle ---------------------------------------------------------------------

    def setup(self, ctx: ObserverContext) -> Verdict:
        self.ctx = ctx
        self.prepare(ctx)
        prober = self.make_prober(ctx)
        prober.recorder = ctx.recorder
        prober.sink = ctx.sink
        prober.subscribe(_live_failures(self.title, ctx.say))
        self.prober = prober.start()
        limit = self.start_timeout(ctx)
        first = prober.wait_ok(limit)
        if first is None:
            return Verdict(False, f"{self.title}: started", "deploy V0", self.about,
                           f"{self.title} never succeeded within {limit:.0f}s of starting "
                           f"(saw {self.describe_since(0.0)})", {"measurement": self.name})
        return Verdict(True, f"{self.title}: started", "deploy V0", self.about,
                       f"{self.title} measured every {prober.interval:g}s", {"measurement": self.name})

    def during(self, step: story.Step) -> None:
        if self.prober is not None:
            self.prober.kick()

    def after(self, step: story.Step) -> list[Verdict]:
        if self.prober is None or self.ctx is None:
            raise RuntimeError(f"{self.title} was never set up (deploy V0 did not finish)")
        recorded = self.ctx.recorder.get(step.title)
        if recorded is None:
            raise RuntimeError(f"step {step.title!r} never ran")
        end = recorded.end_mono if recorded.end_mono is not None else self.ctx.recorder.clock()
        self.prober.settle(end, self.prober.attempts_timeout() + 1.0)
        extra: list[str] = []
        policy = self.policies.for_step(step.title, step.kind)
        if step.kind != "setup" and not policy.enforce and recorded.outcome == "passed":
            limit = self.start_timeout(self.ctx)
            if self.prober.wait_ok(limit, since_mono=end) is None:
                tasks = step_tasks(self.ctx.recorder, recorded)
                extra.append(naming_tasks(f"{self.title} did not succeed again within {limit:.0f}s after "
                                          f"{step.title!r}", tasks) + f": saw {self.describe_since(end)}")
        result = self.judge(recorded)
        if extra:
            result.extra = extra
            result.outcome = "failed"
            result.message = "\n".join([*extra, result.message])
        self.results[step.id] = result
        return [result.to_verdict(self.about)]

    def teardown(self) -> None:
        """Stop and clean up; nothing to do for an observer that was never set up (a run that
        ended before deploy V0 finished, or the smoke suite, which builds but never starts them)."""
        if self.ctx is None:
            return
        try:
            if self.prober is not None:
                self.prober.stop()
        finally:
            self.cleanup()

    # -- results ------------------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        return self.prober.samples() if self.prober is not None else []

    def windows(self) -> list[OutageWindow]:
        if self.prober is None:
            return []
        return outage_windows(self.prober.samples(), self.prober.interval, self.prober.recorder)

    def judge(self, recorded: Any) -> StepMeasurement:
        assert self.prober is not None
        return judge(recorded, self.samples(), self.windows(), recorder=self.prober.recorder,
                     policies=self.policies, interval=self.prober.interval, measurement=self.name,
                     title=self.title, headline=self.headline(recorded.name))

    def summary(self) -> dict[str, Any]:
        """The whole run: samples, failures, windows, longest outage, interval, CPU."""
        samples = self.samples()
        conclusive = [s for s in samples if s.conclusive]
        failed = sum(1 for s in conclusive if not s.ok)
        windows = self.windows()
        return {
            "title": self.title, "attempted": len(conclusive), "failed": failed,
            "inconclusive": len(samples) - len(conclusive),
            "availability": (1 - failed / len(conclusive)) if conclusive else None,
            "windows": len(windows), "longest_outage": max((w.duration for w in windows), default=0.0),
            "interval": self.prober.interval if self.prober is not None else None,
            "cpu_seconds": round(self.prober.cpu_seconds, 4) if self.prober is not None else 0.0,
            "policy": self.policies.to_json(), "options": dict(self.options),
        }

    def describe_since(self, mono: float) -> str:
        """What the prober saw from `mono` on, for a failure message."""
        late = [s for s in self.samples() if s.mono >= mono]
        if not late:
            return "no sample"
        last = late[-1]
        return (f"{len(late)} sample(s), {sum(not s.ok for s in late)} failed, the last one "
                f"{last.error or 'ok'}{' ' + str(last.status) if last.status else ''}"
                + (f" ({last.detail})" if last.detail and not last.ok else ""))


def _live_failures(title: str, say: Callable[[str], None]) -> Callable[[Sample], None]:
    """Print when a measurement starts failing and when it works again (samples may finish
    out of order; this is for watching the run, the report computes the exact windows)."""
    state: dict[str, Any] = {"down_since": None, "last": float("-inf")}

    def on_sample(sample: Sample) -> None:
        if not sample.conclusive or sample.mono < state["last"]:
            return
        state["last"] = sample.mono
        if not sample.ok and state["down_since"] is None:
            state["down_since"] = sample.mono
            steps = ", ".join(sample.steps) or "no step"
            status = f" {sample.status}" if sample.status else ""
            say(f"    {title} | failing ({sample.error}{status}) during {steps}")
        elif sample.ok and state["down_since"] is not None:
            say(f"    {title} | back after about {sample.mono - state['down_since']:.2f}s")
            state["down_since"] = None

    return on_sample
