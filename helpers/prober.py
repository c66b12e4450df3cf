"""Continuous probers: run one attempt over and over, keep every sample, never stall.

Two schedules, one record:

* `FixedRateProber` fires at `t0 + n * interval` from a scheduler thread and hands each
  sample to a worker pool large enough that attempts bounded by their timeouts can never
  delay the next one (prior-art.md §4, §8: uptimer ran each attempt inside its ticker, so
  one hung request swallowed a 30 s outage as one failure). For short attempts: HTTP.
* `LoopProber` runs attempts one after another, starting one at most every `interval`
  seconds. For attempts that last longer than any sensible interval and must not overlap
  (push an app, start it, curl it, delete it).

Both stamp each sample with the recorded steps running when it started, stream it to a
sink, and tell listeners. `kick()` takes a sample now (the suite kicks every prober when a
step begins, so that even a step shorter than an interval is sampled), `settle(t)` waits
for attempts that began before `t` to finish (a step is judged on complete samples), and
`cpu_seconds` is the CPU the attempts cost (benchmarks/).

The attempt is any `attempt(sample) -> None` that fills in the sample (`error`, `status`,
`detail`, ...); an exception it raises becomes error class `exception`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from helpers.samples import Sample
from helpers.steps import StepRecorder

Attempt = Callable[[Sample], None]


class Prober:
    """What both schedules share: the samples, listeners, sink, kick, settle, CPU."""

    spans = False  # True: a sample covers its whole attempt (`end_mono`), not only its start

    def __init__(self, name: str, attempt: Attempt, *, interval: float, recorder: StepRecorder | None = None,
                 sink: Callable[[Sample], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self.name = name
        self.attempt = attempt
        self.interval = float(interval)
        self.recorder = recorder or StepRecorder(clock=clock, wall=wall)
        self.sink = sink
        self.clock = clock
        self.wall = wall
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._samples: list[Sample] = []
        self._listeners: list[Callable[[Sample], None]] = []
        self._in_flight: dict[int, float] = {}  # seq -> mono
        self._seq = 0
        self._kicks = 0  # kick() calls so far; a schedule serves each at most once
        self._served = 0
        self._cpu = 0.0
        self._thread: threading.Thread | None = None
        self.started_mono: float | None = None
        self.stopped_mono: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Prober:
        if self._thread is None:
            self.started_mono = self.clock()
            self._thread = threading.Thread(target=self._run, name=f"probe-{self.name}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once `stop()` began: a long attempt may cut its waiting short."""
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Stop scheduling attempts; `stop()` then waits for the ones in flight."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop sampling and wait for attempts in flight (bounded by their own timeouts). Safe
        to call twice. The sink is its owner's to close (several probers may share one)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()
        self._finish()
        if self.stopped_mono is None and self.started_mono is not None:
            self.stopped_mono = self.clock()

    def _finish(self) -> None:
        pass

    def __enter__(self) -> Prober:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def subscribe(self, listener: Callable[[Sample], None]) -> None:
        """`listener(sample)` after each sample completes (e.g. live failure reporting)."""
        self._listeners.append(listener)

    def kick(self) -> None:
        """Take a sample as soon as possible, outside the regular schedule."""
        with self._lock:
            self._kicks += 1
        self._wake.set()

    def _take_kick(self) -> bool:
        """True (once per kick) when a kick is waiting to be served."""
        with self._lock:
            if self._kicks > self._served:
                self._served = self._kicks
                return True
            return False

    # -- one sample ------------------------------------------------------------------

    def _new_sample(self, due: float) -> Sample:
        with self._lock:
            seq = self._seq
            self._seq += 1
            self._in_flight[seq] = due
        return Sample(seq=seq, wall=self.wall() - (self.clock() - due), mono=due,
                      steps=self.recorder.active_names(), measurement=self.name)

    def _probe(self, sample: Sample) -> None:
        cpu0 = time.thread_time()
        started = self.clock()
        sample.start_delay = max(started - sample.mono, 0.0)
        try:
            self.attempt(sample)
        except Exception as exc:  # an attempt must never kill the prober
            sample.error = "exception"
            sample.detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        if sample.latency is None:
            sample.latency = self.clock() - started
        if self.spans and sample.end_mono is None:
            sample.end_mono = self.clock()
        cpu = time.thread_time() - cpu0
        with self._lock:
            self._cpu += cpu
        self.record(sample)

    def record(self, sample: Sample) -> None:
        """Store a completed sample (also used by tests to feed samples directly)."""
        if not sample.measurement:
            sample.measurement = self.name
        with self._lock:
            self._samples.append(sample)
            self._in_flight.pop(sample.seq, None)
            self._done.notify_all()
        for target in ([self.sink] if self.sink is not None else []) + list(self._listeners):
            try:
                target(sample)
            except Exception:
                pass

    # -- results ---------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        with self._lock:
            return sorted(self._samples, key=lambda s: (s.mono, s.seq))

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._seq

    @property
    def cpu_seconds(self) -> float:
        with self._lock:
            return self._cpu

    def wait_ok(self, timeout: float, since_seq: int = 0, since_mono: float | None = None) -> Sample | None:
        """Wait for a successful conclusive sample with seq >= since_seq (and taken at or after
        `since_mono`): the prober's start-up, a measurement's recovery after the CF step.
        Returns it, or None at the timeout."""
        deadline = self.clock() + timeout
        with self._lock:
            while True:
                ok = [s for s in self._samples if s.ok and s.conclusive and s.seq >= since_seq
                      and (since_mono is None or s.mono >= since_mono)]
                if ok:
                    return min(ok, key=lambda s: (s.mono, s.seq))
                left = deadline - self.clock()
                if left <= 0 or self._stop.is_set():
                    return None
                self._done.wait(min(left, 0.05))

    def settle(self, until_mono: float, timeout: float) -> bool:
        """Wait until every attempt that started at or before `until_mono` has finished.
        False if some were still running at the timeout."""
        deadline = self.clock() + timeout
        with self._lock:
            while any(m <= until_mono for m in self._in_flight.values()):
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self._done.wait(min(left, 0.05))
            return True

    def attempts_timeout(self) -> float:
        """How long one attempt can last at most (what `settle` should allow)."""
        return self.interval


class FixedRateProber(Prober):
    """Samples at `t0 + n * interval`, each attempt on a pool thread.

    `workers` is raised to what the attempt timeout needs, so that `attempt_timeout` seconds
    of hung attempts never delay a scheduled sample.
    """

    def __init__(self, name: str, attempt: Attempt, *, interval: float = 0.1, attempt_timeout: float = 2.0,
                 workers: int | None = None, sleep_until: Callable[[threading.Event, float], bool] | None = None,
                 **kw: Any) -> None:
        super().__init__(name, attempt, interval=interval, **kw)
        self.attempt_timeout = attempt_timeout
        needed = math.ceil(attempt_timeout / self.interval) + 2
        self.workers = max(workers or 0, needed)
        self.skipped_ticks = 0  # ticks dropped because the scheduler itself was late
        self._sleep_until = sleep_until or (lambda ev, delay: ev.wait(delay))
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> Prober:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"probe-{self.name}")
        return super().start()

    def attempts_timeout(self) -> float:
        return self.attempt_timeout

    def _run(self) -> None:
        t0 = self.clock()
        n = 0
        while not self._stop.is_set():
            due = t0 + n * self.interval
            now = self.clock()
            kicked = self._take_kick()
            if kicked:
                due = now
            elif due > now:
                self._wake.clear()
                if not self._take_kick():  # (a kick between the check above and the clear)
                    fired = self._sleep_until(self._wake, due - now)
                    if self._stop.is_set() or (fired and not self._wake.is_set()):
                        break  # stopped (an injected sleeper may say so by returning True)
                    if self._take_kick():
                        kicked, due = True, self.clock()
                else:
                    kicked, due = True, now
            elif now - due > self.interval:
                # the scheduler was starved (machine suspended): skip to the current slot
                behind = int((now - due) / self.interval)
                self.skipped_ticks += behind
                n += behind
                due = t0 + n * self.interval
            pool = self._pool
            if pool is None:
                break
            sample = self._new_sample(due)
            try:
                pool.submit(self._probe, sample)
            except RuntimeError:  # pool shut down under us
                break
            if not kicked:
                n += 1

    def _finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class LoopProber(Prober):
    """One attempt at a time; the next starts `interval` after the previous one started (at
    once if it took longer), or at once when kicked."""

    spans = True

    def __init__(self, name: str, attempt: Attempt, *, interval: float = 2.0, attempt_timeout: float = 60.0,
                 **kw: Any) -> None:
        super().__init__(name, attempt, interval=interval, **kw)
        self.attempt_timeout = attempt_timeout

    def attempts_timeout(self) -> float:
        return self.attempt_timeout

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self.clock()
            self._wake.clear()
            self._probe(self._new_sample(started))
            left = started + self.interval - self.clock()
            if left > 0 and not self._wake.is_set():
                self._wake.wait(left)
