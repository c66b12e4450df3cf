"""The conductor plays the story, one step at a time, and keeps every result as data.

For each story step: the step is recorded (kind diego/cf/setup, `data.story` = its id), every
observer is told it begins (`during`), the driver runs its BOSH operations, and after a CF
step the CF API must answer again. Then the versions each deployment runs are checked.
Then, concurrently (they are independent: the time between steps is the longest of them,
not the sum), the after-step checks (smoke with placement, A0's scaling) and every
observer's judgement of the step (`after`). Each result is kept (`AfterStep`) and written
into the run record, so that tests, report.json, the terminal summary and a resumed run all
read the same data.

Before the first upgrade, after V0: A0 is pushed and every observer is set up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from helpers import story
from helpers.a0 import A0
from helpers.after_checks import AfterCheck
from helpers.driver import Driver
from helpers.observers.base import Observer, ObserverContext
from helpers.observers.judge import StepMeasurement
from helpers.preflight import deployed_versions, deployment_versions
from helpers.record import RunRecord
from helpers.redaction import REDACTOR
from helpers.steps import StepRecorder
from helpers.verdicts import CheckFailed, Verdict, require


class StepOrderError(RuntimeError):
    """A step was asked for before the steps the story puts before it ran in this run."""


@dataclass
class CheckResult:
    """One after-step check's outcome: its verdicts, or the failure that stopped it."""

    name: str
    ok: bool
    verdicts: list[Verdict]
    message: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message, "seconds": round(self.seconds, 3),
                "verdicts": [v.to_json() for v in self.verdicts]}


@dataclass
class AfterStep:
    step: story.Step
    checks: dict[str, CheckResult] = field(default_factory=dict)
    measurements: dict[str, StepMeasurement] = field(default_factory=dict)
    seconds: float = 0.0


class Conductor:
    def __init__(self, *, driver: Driver, record: RunRecord, recorder: StepRecorder, a0: A0,
                 observers: Sequence[Observer], checks: Sequence[AfterCheck],
                 context: Callable[[A0], ObserverContext], cf_ready: Callable[[story.Step], None] | None = None,
                 manifests: Any = None, on_verdict: Callable[[Verdict], None] | None = None) -> None:
        self.driver = driver
        self.record = record
        self.recorder = recorder
        self.a0 = a0
        self.observers = list(observers)
        self.checks = list(checks)
        self.context = context
        self.cf_ready = cf_ready
        self.manifests = manifests
        self.on_verdict = on_verdict
        self.started: dict[str, Verdict] = {}  # observer name -> its start-up verdict
        self.operated: set[str] = set()  # story steps whose operations began in this invocation
        self._after: dict[str, AfterStep] = {}
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {"checks": 0.0, "wait": 0.0}

    def _note(self, v: Verdict) -> Verdict:
        if self.on_verdict is not None:
            self.on_verdict(v)
        return v

    # -- a step's operations -----------------------------------------------------------------

    def operate(self, step: story.Step) -> None:
        """Record the step, tell the observers, run its BOSH operations; after CF, wait for the
        CF API. Raises the driver's `StepFailed` (or `CheckFailed`) naming the step, and
        `StepOrderError` before touching anything when an earlier step of the story has not
        run in this run (selecting a later step alone would, say, deploy D3 at V-prime from
        nothing on the user's director)."""
        earlier = story.STORY[:story.STORY.index(step)] if step in story.STORY else ()
        missing = [s.title for s in earlier if self.record.step_data(s.id).get("outcome") not in ("operated", "passed")]
        if missing:
            raise StepOrderError(
                f"step {step.title!r} cannot start: {', '.join(repr(m) for m in missing)} did not run (or did not "
                f"pass) in this run, and the story runs in order ({' -> '.join(s.title for s in story.STORY)}); "
                "run the whole suite: selecting a later step alone would change deployments this run did not "
                "bring to that point. Nothing was changed.")
        if step.kind != "setup" and not self.started and self.a0.app is not None:
            self.start_observers()  # a resumed run: A0 is back, the measurements start with its first step
        self.record.begin_step(step.id)
        self.operated.add(step.id)
        try:
            with self.recorder.step(step.title, kind=step.kind, data={"story": step.id}):
                for observer in self.observers:
                    if observer.prober is not None:
                        observer.during(step)
                self.driver.run(step)
            if step.kind == "cf" and self.cf_ready is not None:
                start = time.monotonic()
                try:
                    with self.recorder.step(f"wait for the CF API after {step.title}", kind="setup"):
                        self.cf_ready(step)
                finally:
                    self.timings["wait"] += time.monotonic() - start
        except BaseException as exc:
            # redacted before it is cut: the record is mirrored to artifacts/ as it is, and a cut
            # secret would no longer match its registered value
            self.record.step(step.id, outcome="failed", message=REDACTOR.redact(exc)[:2000])
            raise
        self.record.step(step.id, outcome="operated")

    def began(self, step: story.Step) -> bool:
        """The step's operations began in this invocation (it was not refused, not skipped)."""
        return step.id in self.operated

    def verify_versions(self, step: story.Step) -> list[Verdict]:
        """Every deployment this run created runs the releases its manifest (at the version the
        run last deployed) pins."""
        if self.manifests is None:
            return []
        start = time.monotonic()
        try:
            seen = deployed_versions(self.driver.director)
            out = []
            for label, version in self.driver.versions().items():
                name = self.manifests.name(label)
                expected = self.manifests.releases(label, version)
                out.append(require(self._note(deployment_versions(step.title, name, expected, seen.get(name, {})))))
            return out
        finally:
            self.timings["checks"] += time.monotonic() - start

    # -- A0 and the observers ------------------------------------------------------------------

    def push_a0(self, space_guid: str) -> list[Verdict]:
        start = time.monotonic()
        try:
            return self.a0.push(space_guid)
        finally:
            self.timings["checks"] += time.monotonic() - start

    def start_observers(self) -> dict[str, Verdict]:
        """Set every observer up, concurrently; each start-up verdict is kept by name."""
        if self.started:
            return self.started
        start = time.monotonic()
        ctx = self.context(self.a0)
        with ThreadPoolExecutor(max_workers=max(len(self.observers), 1), thread_name_prefix="setup") as pool:
            futures = {o.name: pool.submit(_setup, o, ctx) for o in self.observers}
        self.started = {name: self._note(f.result()) for name, f in futures.items()}
        started = {n: v.to_json() for n, v in self.started.items()}
        if self.record.step_data("v0").get("invocation") == self.record.invocation:
            self.record.step("v0", observers=started)
        else:  # started again by a resumed run: deploy V0's record stays as its invocation left it
            self.record.note_invocation(observers=started)
        self.timings["checks"] += time.monotonic() - start
        return self.started

    def stop_observers(self) -> None:
        for observer in self.observers:
            try:
                observer.teardown()
            except Exception:
                pass

    # -- after a step ----------------------------------------------------------------------------

    def after(self, step: story.Step) -> AfterStep:
        """The after-step checks and the observers' judgement of `step`, concurrently; once."""
        with self._lock:
            if step.id in self._after:
                return self._after[step.id]
            start = time.monotonic()
            result = AfterStep(step)
            checks = [c for c in self.checks if c.applies(step)]
            judged = [o for o in self.observers if o.prober is not None] if step.kind != "setup" else []
            workers = max(len(checks) + len(judged), 1)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="after") as pool:
                check_futures = {c.name: pool.submit(_run_check, c, step) for c in checks}
                observer_futures = {o.name: pool.submit(_judge, o, step) for o in judged}
            for name, f in check_futures.items():
                result.checks[name] = f.result()
            for name, f in observer_futures.items():
                result.measurements[name] = f.result()
            result.seconds = time.monotonic() - start
            self.timings["checks"] += result.seconds
            self._after[step.id] = result
            self.record.step(step.id, checks={n: c.to_json() for n, c in result.checks.items()},
                             measurements={n: m.to_json() for n, m in result.measurements.items()},
                             outcome="passed" if all(c.ok for c in result.checks.values()) else "failed")
            return result

    def results(self) -> dict[str, AfterStep]:
        return dict(self._after)


def _setup(observer: Observer, ctx: ObserverContext) -> Verdict:
    try:
        return observer.setup(ctx)
    except Exception as exc:
        return Verdict(False, f"{observer.title}: started", "deploy V0", observer.about,
                       f"{observer.title} could not be set up: {type(exc).__name__}: {exc}",
                       {"measurement": observer.name})


def _run_check(check: AfterCheck, step: story.Step) -> CheckResult:
    start = time.monotonic()
    try:
        verdicts = check.run(step)
    except CheckFailed as exc:
        return CheckResult(check.name, False, [*exc.history, exc.verdict], str(exc), time.monotonic() - start)
    except Exception as exc:
        return CheckResult(check.name, False, [], f"[{step.title}] {check.name} failed: {type(exc).__name__}: {exc}",
                           time.monotonic() - start)
    failed = [v for v in verdicts if not v.ok]
    message = "\n".join(str(v) for v in failed) or f"[{step.title}] {check.name}: {len(verdicts)} verdict(s) ok"
    return CheckResult(check.name, not failed, verdicts, message, time.monotonic() - start)


def _judge(observer: Observer, step: story.Step) -> StepMeasurement:
    try:
        observer.after(step)
        return observer.results[step.id]
    except Exception as exc:
        return StepMeasurement(observer.name, observer.title, step.title, step.kind,
                               observer.policies.for_step(step.title, step.kind), "failed",
                               f"{observer.title} could not judge {step.title!r}: {type(exc).__name__}: {exc}")
