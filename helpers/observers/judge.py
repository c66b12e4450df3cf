"""Judge one measurement during one step: its samples and windows against its policy.

The rules, the same for every measurement:

* the samples *of* a step are those whose attempt overlaps it; windows are attributed to
  every step their failures overlap, and name the BOSH tasks that ran meanwhile;
* a window that began inside a story step whose policy only records (the CF step) is exempt
  as a whole: enforcement resumes once the measurement succeeds again;
* a step is *measured* when at least half of the samples its length calls for (and at least
  one) were conclusive; a step without them fails as "not measured" (no samples must never
  read as "no outage"), unless every attempt was inconclusive because something another
  measurement covers had failed first: then it is `unmeasured`, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from helpers.observers.policy import Policies, StepPolicy
from helpers.samples import OutageWindow, Sample
from helpers.steps import Step, StepRecorder
from helpers.verdicts import Verdict

OK_OUTCOMES = ("passed", "recorded")


@dataclass
class StepMeasurement:
    """One measurement during one step, as data (run record, report.json, terminal, tests)."""

    measurement: str  # registry name, e.g. a0_routable
    title: str  # e.g. "A0 routable"
    step: str  # step title
    kind: str
    policy: StepPolicy
    outcome: str  # passed | failed | recorded | unmeasured
    message: str
    attempted: int = 0  # conclusive samples overlapping the step
    failed: int = 0
    inconclusive: int = 0
    expected: int = 0  # what the step's length calls for at the measurement's interval
    interval: float = 0.0
    windows: list[OutageWindow] = field(default_factory=list)
    violations: list[OutageWindow] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # further problems (e.g. no recovery after CF)

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES

    @property
    def longest_outage(self) -> float:
        return max((w.duration for w in self.windows), default=0.0)

    @property
    def tasks(self) -> list[int]:
        return sorted({t for w in (self.violations or self.windows) for t in w.tasks})

    def to_verdict(self, app: str = "A0") -> Verdict:
        return Verdict(self.ok, self.title, self.step, app, self.message,
                       {"measurement": self.measurement, "outcome": self.outcome, "tasks": self.tasks})

    def to_json(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement, "title": self.title, "step": self.step, "kind": self.kind,
            "policy": self.policy.to_json(), "outcome": self.outcome, "message": self.message,
            "attempted": self.attempted, "failed": self.failed, "inconclusive": self.inconclusive,
            "expected": self.expected, "interval": self.interval,
            "longest_outage": round(self.longest_outage, 6), "tasks": self.tasks,
            "windows": [w.to_json() for w in self.windows], "violations": [w.to_json() for w in self.violations],
            "extra": self.extra,
        }


def exempt(window: OutageWindow, recorder: StepRecorder, policies: Policies) -> bool:
    """Began inside a story step whose policy only records (then it is exempt as a whole)."""
    begun_in = [s for s in recorder.active_at(window.first_fail_mono) if s.story and s.kind != "setup"]
    return any(not policies.for_step(s.name, s.kind).enforce for s in begun_in)


def step_tasks(recorder: StepRecorder, step: Step) -> list[int]:
    """The BOSH tasks of a story step's operations (the driver records each with `in` = the step)."""
    story_id = step.data.get("story")
    if story_id is None:
        return []
    return [int(s.data["task"]) for s in recorder.steps()
            if s.data.get("in") == story_id and s.data.get("task") is not None]


def naming_tasks(text: str, tasks: Sequence[int]) -> str:
    """`text (BOSH tasks 11, 12)`: every failure of a step names the tasks it ran."""
    if not tasks:
        return f"{text} (no BOSH task ran)"
    return f"{text} (BOSH task{'s' if len(tasks) > 1 else ''} {', '.join(str(t) for t in tasks)})"


def judge(step: Step, samples: Sequence[Sample], windows: Sequence[OutageWindow], *, recorder: StepRecorder,
          policies: Policies, interval: float, measurement: str, title: str, headline: str,
          now: float | None = None) -> StepMeasurement:
    """`headline` reads as a sentence about a failure, e.g. "A0 lost its route during 'upgrade D3'";
    every failure names the step's BOSH tasks after it."""
    policy = policies.for_step(step.name, step.kind)
    tasks = step_tasks(recorder, step)
    headline = naming_tasks(headline, tasks)
    now = recorder.clock() if now is None else now
    base = dict(measurement=measurement, title=title, step=step.name, kind=step.kind, policy=policy,
                interval=interval)
    if step.outcome == "skipped":
        return StepMeasurement(**base, outcome="passed", message=f"{title}: step {step.name!r} did not run")
    mine = [s for s in samples if step.overlaps(s.mono, s.span_end, now)]
    conclusive = [s for s in mine if s.conclusive]
    failed = [s for s in conclusive if not s.ok]
    inconclusive = [s for s in mine if not s.conclusive]
    overlapping = [w for w in windows if step.overlaps(*w.fail_span, now)]
    violations = []
    if policy.enforce:
        violations = [w for w in overlapping if not exempt(w, recorder, policies)
                      and (policy.max_outage <= 0 or w.duration > policy.max_outage)]
    duration = (step.end_mono if step.end_mono is not None else now) - step.start_mono
    expected = int(duration / interval) if interval > 0 else 0
    required = max(1, expected // 2)
    counts = dict(attempted=len(conclusive), failed=len(failed), inconclusive=len(inconclusive),
                  expected=expected, windows=overlapping, violations=violations)
    seen = f"{len(failed)} of {len(conclusive)} samples failed"
    if violations:
        lines = [f"{headline}: {len(violations)} outage window(s) broke the policy ({policy.describe()}; {seen})"]
        lines += [f"  - {w.describe()}" for w in violations]
        return StepMeasurement(**base, outcome="failed", message="\n".join(lines), **counts)
    if len(conclusive) < required:
        took = (f"{len(conclusive)} conclusive sample(s) during {step.name!r} (expected about {expected}, "
                f"one every {interval:g}s)")
        if inconclusive:
            why = _inconclusive_reasons(inconclusive)
            return StepMeasurement(**base, outcome="unmeasured",
                                   message=f"{title} was not measured during {step.name!r}: {took}; "
                                           f"{len(inconclusive)} attempt(s) could not measure: {why}", **counts)
        return StepMeasurement(**base, outcome="failed",
                               message=f"{naming_tasks(f'{title} was not measured during {step.name!r}', tasks)}: "
                                       f"{took}", **counts)
    if overlapping and not policy.enforce:
        return StepMeasurement(**base, outcome="recorded",
                               message=f"{title} during {step.name!r}: {len(overlapping)} outage window(s) recorded, "
                                       f"not enforced ({seen})", **counts)
    tolerated = f", {len(overlapping)} short window(s) tolerated" if overlapping else ""
    return StepMeasurement(**base, outcome="passed",
                           message=f"{title} during {step.name!r}: {seen}{tolerated}", **counts)


def _inconclusive_reasons(samples: Sequence[Sample]) -> str:
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.error or "?"] = counts.get(s.error or "?", 0) + 1
    detail = next((s.detail for s in samples if s.detail), None)
    text = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    return text + (f" (e.g. {detail})" if detail else "")
