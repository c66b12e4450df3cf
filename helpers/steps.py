"""Step recorder: the named phases of a run, with start and end times and an outcome.

Every sample a measurement takes is stamped with the steps running at that moment, outage
windows are attributed to the steps they overlap, and the report, the timeline and the
terminal summary list the steps. All of them need the same record, so it lives here,
thread-safe, with an injectable clock (tests use a fake one).

A step's *kind* (`setup`, `diego`, `cf`) is what measurement policies key on (see
`helpers/observers/policy.py`); `data` carries what the recorder does not interpret: the
story step a phase belongs to (`story`), the BOSH task an operation ran (`task`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KINDS = ("diego", "cf", "setup")


@dataclass
class Step:
    """One recorded phase. Times: monotonic for arithmetic, wall (Unix seconds) for humans."""

    name: str
    kind: str
    start_mono: float
    start_wall: float
    end_mono: float | None = None
    end_wall: float | None = None
    outcome: str = "running"  # running | passed | failed | skipped
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.end_mono is not None

    @property
    def duration(self) -> float | None:
        return None if self.end_mono is None else self.end_mono - self.start_mono

    @property
    def story(self) -> str | None:
        """The id of the story step this phase is (None for operations, checks, ...)."""
        return self.data.get("story")

    def covers(self, mono: float, now: float | None = None) -> bool:
        """True when `mono` falls inside the step (an open step extends to `now`)."""
        return self.overlaps(mono, mono, now)

    def overlaps(self, start: float, end: float, now: float | None = None) -> bool:
        """True when [start, end] meets the step (an open step extends to `now`, else forever)."""
        step_end = self.end_mono if self.end_mono is not None else (now if now is not None else float("inf"))
        return start <= step_end and end >= self.start_mono

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind,
            "start_mono": self.start_mono, "start_wall": self.start_wall,
            "end_mono": self.end_mono, "end_wall": self.end_wall,
            "duration": self.duration, "outcome": self.outcome, "message": self.message,
            "data": self.data,
        }


class StepRecorder:
    """Records steps; `with recorder.step("upgrade D1", kind="diego"):` times one.

    An exception inside the block marks the step failed (with the exception text as the
    message) and propagates; a normal exit marks it passed.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.wall = wall
        self._steps: list[Step] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, Step], None]] = []

    def subscribe(self, listener: Callable[[str, Step], None]) -> None:
        """`listener(event, step)` with event "start" or "end" (used for live terminal output)."""
        self._listeners.append(listener)

    def _notify(self, event: str, step: Step) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, step)
            except Exception:  # a broken listener must not break the run
                pass

    def begin(self, name: str, kind: str = "setup", data: Mapping[str, Any] | None = None) -> Step:
        if kind not in KINDS:
            raise ValueError(f"step kind must be one of {', '.join(KINDS)}, not {kind!r}")
        step = Step(name=name, kind=kind, start_mono=self.clock(), start_wall=self.wall(), data=dict(data or {}))
        with self._lock:
            self._steps.append(step)
        self._notify("start", step)
        return step

    def end(self, step: Step, outcome: str = "passed", message: str | None = None) -> Step:
        with self._lock:
            if step.end_mono is None:
                step.end_mono = self.clock()
                step.end_wall = self.wall()
                step.outcome = outcome
                step.message = message
        self._notify("end", step)
        return step

    @contextmanager
    def step(self, name: str, kind: str = "setup", data: Mapping[str, Any] | None = None) -> Iterator[Step]:
        step = self.begin(name, kind, data)
        try:
            yield step
        except BaseException as exc:
            self.end(step, "failed", f"{type(exc).__name__}: {exc}")
            raise
        else:
            self.end(step, "passed")

    def skipped(self, name: str, kind: str, reason: str, data: Mapping[str, Any] | None = None) -> Step:
        """Record a step that never ran (an earlier step failed)."""
        step = self.begin(name, kind, data)
        return self.end(step, "skipped", reason)

    def steps(self) -> list[Step]:
        with self._lock:
            return list(self._steps)

    def get(self, name: str) -> Step | None:
        """The most recent step called `name`."""
        with self._lock:
            return next((s for s in reversed(self._steps) if s.name == name), None)

    def active_at(self, mono: float) -> list[Step]:
        now = self.clock()
        with self._lock:
            return [s for s in self._steps if s.covers(mono, now)]

    def active_names(self) -> list[str]:
        with self._lock:
            return [s.name for s in self._steps if s.end_mono is None]

    def overlapping(self, start: float, end: float) -> list[Step]:
        now = self.clock()
        with self._lock:
            return [s for s in self._steps if s.overlaps(start, end, now)]
