"""Samples of a continuous measurement, and the outage windows they add up to.

Every measurement (A0's routability, push-ability, recent logs, SSH, ...) records one
`Sample` per attempt: when it started (monotonic and wall), how long it took, whether it
succeeded and, if not, an error class and a short detail. Consecutive failed samples become
an `OutageWindow` `[last ok, first ok after]`, attributed to the recorded steps it overlaps;
the JSONL writer streams every sample to `samples.jsonl` without ever blocking a probe.

A sample may be *inconclusive*: the attempt could not measure what it is for, because
something another measurement covers failed first (e.g. a log line could not be emitted
because A0's route was down). Inconclusive samples never make or break a window; they are
counted, so that a step measured only inconclusively says so instead of passing.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.redaction import redact_data
from helpers.steps import StepRecorder


@dataclass
class Sample:
    seq: int
    wall: float  # Unix time at the (scheduled) start
    mono: float  # monotonic (scheduled) start: the moment the sample observes
    latency: float | None = None  # seconds from actual start to answer/error
    status: int | None = None  # HTTP status, where the attempt made a request
    error: str | None = None  # error class; None = the attempt succeeded
    router_error: str | None = None  # X-Cf-Routererror
    request_id: str | None = None  # X-Vcap-Request-Id
    instance: str | None = None  # which app instance answered
    detail: str | None = None  # short exception text / body snippet on errors
    steps: list[str] = field(default_factory=list)
    start_delay: float = 0.0  # actual start - scheduled start (worker pool pressure)
    measurement: str = ""
    end_mono: float | None = None  # when the attempt's outcome was known (long attempts)
    conclusive: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def span_end(self) -> float:
        """The last moment this sample covers: its end for long attempts, its start otherwise."""
        return self.end_mono if self.end_mono is not None else self.mono

    def to_json(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement, "seq": self.seq, "wall": round(self.wall, 6),
            "mono": round(self.mono, 6), "end_mono": None if self.end_mono is None else round(self.end_mono, 6),
            "latency": None if self.latency is None else round(self.latency, 6),
            "status": self.status, "ok": self.ok, "conclusive": self.conclusive, "error": self.error,
            "router_error": self.router_error, "request_id": self.request_id,
            "instance": self.instance, "detail": self.detail, "steps": self.steps,
            "start_delay": round(self.start_delay, 6),
        }


@dataclass
class OutageWindow:
    """Consecutive failed samples. Bounds: `start` = when the last ok sample before was taken
    (its end, for attempts that span time), or the first failure if none; `end` = first ok
    sample after (None while ongoing). `duration` is the
    midpoint estimate between the bounds and the failed samples themselves, accurate to one
    sample interval; `duration_max` is the conservative `end - start`."""

    start_mono: float
    start_wall: float
    end_mono: float | None
    end_wall: float | None
    first_fail_mono: float
    last_fail_mono: float
    first_fail_wall: float
    failed_samples: int
    errors: dict[str, int]
    router_errors: dict[str, int]
    steps: list[str] = field(default_factory=list)
    interval: float = 0.1
    measurement: str = ""
    last_fail_end: float | None = None  # the last failed attempt's end (long attempts)
    tasks: list[int] = field(default_factory=list)  # BOSH tasks running during the window
    details: list[str] = field(default_factory=list)  # a few distinct failure details

    @property
    def ongoing(self) -> bool:
        return self.end_mono is None

    @property
    def fail_span(self) -> tuple[float, float]:
        """[first failure, last failure (its end for long attempts)]: what the window overlaps."""
        return self.first_fail_mono, max(self.last_fail_mono, self.last_fail_end or self.last_fail_mono)

    @property
    def duration(self) -> float:
        begin = (min(self.start_mono, self.first_fail_mono) + self.first_fail_mono) / 2
        last = self.fail_span[1]
        end = last + self.interval / 2 if self.end_mono is None else (last + max(self.end_mono, last)) / 2
        return max(end - begin, 0.0)

    @property
    def duration_max(self) -> float:
        end = self.end_mono if self.end_mono is not None else self.fail_span[1]
        return end - self.start_mono

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.gmtime(self.first_fail_wall)) + \
            f".{int((self.first_fail_wall % 1) * 1000):03d}Z"
        errs = ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items()))
        # An open window has no end yet: its estimate is a lower bound and it has no upper one.
        length = (f"failing for {self.duration:.2f}s and still failing at the end of what was measured"
                  if self.ongoing else f"lasting about {self.duration:.2f}s (at most {self.duration_max:.2f}s)")
        steps = f" during {', '.join(self.steps)}" if self.steps else ""
        tasks = f" (BOSH task{'s' if len(self.tasks) > 1 else ''} {', '.join(map(str, self.tasks))})" \
            if self.tasks else ""
        detail = f"; e.g. {self.details[0]}" if self.details else ""
        return (f"outage at {when} {length}, "
                f"{self.failed_samples} failed samples: {errs}{steps}{tasks}{detail}")

    def to_json(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement,
            "start_mono": self.start_mono, "start_wall": self.start_wall,
            "end_mono": self.end_mono, "end_wall": self.end_wall,
            "first_fail_mono": self.first_fail_mono, "last_fail_mono": self.last_fail_mono,
            "first_fail_wall": self.first_fail_wall,
            "duration": round(self.duration, 6), "duration_max": round(self.duration_max, 6),
            "failed_samples": self.failed_samples, "errors": self.errors,
            "router_errors": self.router_errors, "steps": self.steps, "tasks": self.tasks,
            "details": self.details, "ongoing": self.ongoing,
        }


def outage_windows(samples: list[Sample], interval: float,
                   recorder: StepRecorder | None = None) -> list[OutageWindow]:
    """Merge consecutive failed conclusive samples (in time order) into windows."""
    ordered = sorted((s for s in samples if s.conclusive), key=lambda s: (s.mono, s.seq))
    windows: list[OutageWindow] = []
    last_ok: Sample | None = None
    current: OutageWindow | None = None
    for s in ordered:
        if s.ok:
            if current is not None:
                current.end_mono, current.end_wall = s.mono, s.wall
                windows.append(current)
                current = None
            last_ok = s
            continue
        if current is None:
            # the last moment it was seen working: the end of the last good attempt (its start
            # for instant samples), or the first failure when none worked before
            anchor = last_ok or s
            seen_ok = anchor.span_end if last_ok is not None else s.mono
            current = OutageWindow(start_mono=seen_ok, start_wall=anchor.wall + (seen_ok - anchor.mono), end_mono=None,
                                   end_wall=None, first_fail_mono=s.mono, last_fail_mono=s.mono,
                                   first_fail_wall=s.wall, failed_samples=0, errors={},
                                   router_errors={}, interval=interval, measurement=s.measurement)
        current.last_fail_mono = s.mono
        current.last_fail_end = max(current.last_fail_end or s.span_end, s.span_end)
        current.failed_samples += 1
        current.errors[s.error or "?"] = current.errors.get(s.error or "?", 0) + 1
        if s.router_error:
            current.router_errors[s.router_error] = current.router_errors.get(s.router_error, 0) + 1
        if s.detail and len(current.details) < 3 and s.detail not in current.details:
            current.details.append(s.detail[:200])
    if current is not None:
        windows.append(current)
    if recorder is not None:
        for w in windows:
            start, end = w.fail_span
            overlapping = recorder.overlapping(start, end)
            w.steps = [st.name for st in overlapping]
            w.tasks = sorted({int(st.data["task"]) for st in overlapping if st.data.get("task") is not None})
    return windows


class JsonlWriter:
    """Writes samples as JSON lines from a queue on its own thread (never blocks sampling)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="samples-writer", daemon=True)
        self._thread.start()

    def __call__(self, sample: Sample) -> None:
        self._queue.put(sample.to_json())

    def _run(self) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            while True:
                item = self._queue.get()
                if item is None:
                    fh.flush()
                    return
                # redacted here, off the sampling threads: a detail quotes an error, and
                # samples.jsonl is an artifact (helpers/redaction.py)
                fh.write(json.dumps(redact_data(item), separators=(",", ":")) + "\n")
                if self._queue.empty():
                    fh.flush()

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
