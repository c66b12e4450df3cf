"""Continual routability of A0: a background poller on a fixed monotonic schedule.

Why it looks like this (prior-art.md §4, §8): uptimer ran each attempt inside its ticker,
so one hung request swallowed a 30 s outage as one failure; DUSTs slept 2 s *after* each
request and had no HTTP timeout at all. Here a scheduler thread fires at `t0 + n * interval`
and hands each sample to a worker pool large enough that requests bounded by connect/read
timeouts can never delay the next sample. Every request opens a fresh connection (no
keep-alive: a reused connection to a router being recreated skews results). Every sample is
kept (and streamed to JSONL by a writer thread); consecutive failures become outage windows
`[last_ok, first_ok_after]`, attributed to the steps they overlap, and judged by the step's
policy.

The network is behind an injectable `fetch(url, connect_timeout, read_timeout) ->
FetchResult` so that tests use a local server, and the clock is injectable too.
"""

from __future__ import annotations

import json
import math
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.steps import Step, StepRecorder

# --------------------------------------------------------------------------------------
# Error taxonomy

ERROR_CLASSES = (
    "dns",  # the name did not resolve
    "connect_refused",  # nothing listens (e.g. HAProxy down)
    "connect_timeout",  # no TCP answer within the connect timeout
    "connect_reset",  # connection reset/aborted/closed without a response
    "tls",  # handshake or certificate failure
    "read_timeout",  # connected, no answer within the read timeout
    "unknown_route",  # 404 (gorouter: X-Cf-Routererror: unknown_route)
    "endpoint_failure",  # 502 (gorouter: X-Cf-Routererror: endpoint_failure)
    "http_503",  # 503 (HAProxy without a gorouter, or an app not ready)
    "other_status",  # any other non-2xx status
    "body_mismatch",  # 2xx, but not the body the app answers
)


@dataclass(frozen=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]
    body: str


Fetch = Callable[[str, float, float], FetchResult]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (cause/context/args), for classification."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if e in seen or len(seen) > 20:
            continue
        seen.append(e)
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return seen


def classify_exception(exc: BaseException) -> str:
    """Map a transport exception (requests, urllib3 or plain socket) onto the taxonomy."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names \
            or "name or service not known" in text or "failed to resolve" in text:
        return "dns"
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain) or "SSLError" in names:
        return "tls"
    if "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        return "connect_timeout"
    if "ReadTimeout" in names or "ReadTimeoutError" in names:
        return "read_timeout"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "connect_refused"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in chain):
        # a bare socket timeout: during connect if no connection was made
        return "connect_timeout" if "connect" in text else "read_timeout"
    return "connect_reset"


def classify_response(result: FetchResult, body_ok: Callable[[str], bool] | None = None) -> str | None:
    """The error class of a response, or None when it counts as routable."""
    if 200 <= result.status < 300:
        if body_ok is not None and not body_ok(result.body):
            return "body_mismatch"
        return None
    if result.status == 404:
        return "unknown_route"
    if result.status == 502:
        return "endpoint_failure"
    if result.status == 503:
        return "http_503"
    return "other_status"


def header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lname), None)


# --------------------------------------------------------------------------------------
# Fetchers


def requests_fetch(session_factory: Callable[[], Any]) -> Fetch:
    """A `fetch` over requests: a new session per request (fresh connection, `Connection:
    close`), so that a stale keep-alive connection never hides or causes an outage.
    `session_factory` is e.g. `lambda: net.http_session(tls, resolver)` (resolve map, TLS)."""

    def fetch(url: str, connect_timeout: float, read_timeout: float) -> FetchResult:
        session = session_factory()
        try:
            resp = session.get(url, timeout=(connect_timeout, read_timeout),
                               headers={"Connection": "close"}, allow_redirects=False)
            body = resp.content[:4096].decode("utf-8", "replace")
            return FetchResult(resp.status_code, dict(resp.headers), body)
        finally:
            session.close()

    return fetch


def shared_session_fetch(session: Any) -> Fetch:
    """A `fetch` over one shared session whose TLS/resolver set-up is paid once; every
    request still opens a fresh TCP connection (`Connection: close`, so the pool never
    reuses it). Cheaper than `requests_fetch` when building a session is costly."""

    def fetch(url: str, connect_timeout: float, read_timeout: float) -> FetchResult:
        resp = session.get(url, timeout=(connect_timeout, read_timeout), headers={"Connection": "close"},
                           allow_redirects=False)
        try:
            body = resp.content[:4096].decode("utf-8", "replace")
            return FetchResult(resp.status_code, dict(resp.headers), body)
        finally:
            resp.close()

    return fetch


# --------------------------------------------------------------------------------------
# Samples and windows


@dataclass
class Sample:
    seq: int
    wall: float  # Unix time at the scheduled start
    mono: float  # monotonic scheduled start (the time this sample observes)
    latency: float | None = None  # seconds from actual start to answer/error
    status: int | None = None
    error: str | None = None  # an ERROR_CLASSES member, None = routable
    router_error: str | None = None  # X-Cf-Routererror
    request_id: str | None = None  # X-Vcap-Request-Id
    instance: str | None = None  # instance id answered by the app
    detail: str | None = None  # short exception text / body snippet on errors
    steps: list[str] = field(default_factory=list)
    start_delay: float = 0.0  # actual start - scheduled start (worker pool pressure)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "wall": round(self.wall, 6), "mono": round(self.mono, 6),
            "latency": None if self.latency is None else round(self.latency, 6),
            "status": self.status, "ok": self.ok, "error": self.error,
            "router_error": self.router_error, "request_id": self.request_id,
            "instance": self.instance, "detail": self.detail, "steps": self.steps,
            "start_delay": round(self.start_delay, 6),
        }


@dataclass
class OutageWindow:
    """Consecutive failed samples. Bounds: `start` = last ok sample before (or the first
    failure if none), `end` = first ok sample after (None while ongoing). `duration` is the
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

    @property
    def ongoing(self) -> bool:
        return self.end_mono is None

    @property
    def duration(self) -> float:
        begin = (self.start_mono + self.first_fail_mono) / 2
        end = self.last_fail_mono + self.interval / 2 if self.end_mono is None \
            else (self.last_fail_mono + self.end_mono) / 2
        return max(end - begin, 0.0)

    @property
    def duration_max(self) -> float:
        end = self.end_mono if self.end_mono is not None else self.last_fail_mono
        return end - self.start_mono

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.gmtime(self.first_fail_wall)) + \
            f".{int((self.first_fail_wall % 1) * 1000):03d}Z"
        errs = ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items()))
        state = " (ongoing)" if self.ongoing else ""
        steps = f" during {', '.join(self.steps)}" if self.steps else ""
        return (f"outage at {when} lasting {self.duration:.2f}s (<= {self.duration_max:.2f}s){state}, "
                f"{self.failed_samples} failed samples: {errs}{steps}")

    def to_json(self) -> dict[str, Any]:
        return {
            "start_mono": self.start_mono, "start_wall": self.start_wall,
            "end_mono": self.end_mono, "end_wall": self.end_wall,
            "first_fail_mono": self.first_fail_mono, "last_fail_mono": self.last_fail_mono,
            "first_fail_wall": self.first_fail_wall,
            "duration": round(self.duration, 6), "duration_max": round(self.duration_max, 6),
            "failed_samples": self.failed_samples, "errors": self.errors,
            "router_errors": self.router_errors, "steps": self.steps, "ongoing": self.ongoing,
        }


def outage_windows(samples: list[Sample], interval: float,
                   recorder: StepRecorder | None = None) -> list[OutageWindow]:
    """Merge consecutive failed samples (by sequence) into windows."""
    ordered = sorted(samples, key=lambda s: s.seq)
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
            anchor = last_ok or s
            current = OutageWindow(start_mono=anchor.mono, start_wall=anchor.wall, end_mono=None,
                                   end_wall=None, first_fail_mono=s.mono, last_fail_mono=s.mono,
                                   first_fail_wall=s.wall, failed_samples=0, errors={},
                                   router_errors={}, interval=interval)
        current.last_fail_mono = s.mono
        current.failed_samples += 1
        current.errors[s.error or "?"] = current.errors.get(s.error or "?", 0) + 1
        if s.router_error:
            current.router_errors[s.router_error] = current.router_errors.get(s.router_error, 0) + 1
    if current is not None:
        windows.append(current)
    if recorder is not None:
        for w in windows:
            w.steps = [st.name for st in recorder.overlapping(w.first_fail_mono, w.last_fail_mono)]
    return windows


def window_exempt(window: OutageWindow, recorder: StepRecorder) -> bool:
    """A window that began inside a non-enforced step (the CF deploy) is exempt as a whole:
    enforcement resumes only once A0 answers again."""
    begun_in = recorder.active_at(window.first_fail_mono)
    return any(not s.policy.enforce for s in begun_in if s.kind != "setup")


def violations_for(step: Step, windows: list[OutageWindow], recorder: StepRecorder,
                   now: float | None = None) -> list[OutageWindow]:
    """Windows overlapping `step` that break its policy (a step that never ran has none)."""
    if not step.policy.enforce or step.outcome == "skipped":
        return []
    out = []
    for w in windows:
        if not step.overlaps(w.first_fail_mono, w.last_fail_mono, now):
            continue
        if window_exempt(w, recorder):
            continue
        if step.policy.max_outage <= 0 or w.duration > step.policy.max_outage:
            out.append(w)
    return out


# --------------------------------------------------------------------------------------
# The JSONL writer


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
                fh.write(json.dumps(item, separators=(",", ":")) + "\n")
                if self._queue.empty():
                    fh.flush()

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)


# --------------------------------------------------------------------------------------
# The poller


def default_instance_from(body: str) -> str | None:
    """The probe's `/id` answers the instance guid; anything short and single-line counts."""
    text = body.strip()
    if text and len(text) <= 128 and "\n" not in text:
        return text
    return None


class Poller:
    """Polls `url` every `interval` seconds from a background thread.

    `start()` begins; `stop()` sets an event, waits for in-flight requests (bounded by the
    timeouts), joins every thread and flushes the sink. Safe to call `stop()` twice.
    """

    def __init__(self, url: str, fetch: Fetch, *, interval: float = 0.1, connect_timeout: float = 1.0,
                 read_timeout: float = 1.0, workers: int | None = None,
                 recorder: StepRecorder | None = None, sink: Callable[[Sample], None] | None = None,
                 body_ok: Callable[[str], bool] | None = None,
                 instance_from: Callable[[str], str | None] = default_instance_from,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep_until: Callable[[threading.Event, float], bool] | None = None) -> None:
        if interval <= 0:
            raise ValueError("poller interval must be positive")
        self.url = url
        self.fetch = fetch
        self.interval = interval
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        needed = math.ceil((connect_timeout + read_timeout) / interval) + 2
        self.workers = max(workers or 0, needed)
        self.recorder = recorder or StepRecorder(clock=clock, wall=wall)
        self.sink = sink
        self.body_ok = body_ok
        self.instance_from = instance_from
        self.clock = clock
        self.wall = wall
        self._sleep_until = sleep_until or (lambda ev, delay: ev.wait(delay))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._listeners: list[Callable[[Sample], None]] = []
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._seq = 0
        self.skipped_ticks = 0  # ticks dropped because the scheduler itself was late
        self.started_mono: float | None = None
        self.stopped_mono: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Poller:
        if self._thread is not None:
            return self
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="poll")
        self.started_mono = self.clock()
        self._thread = threading.Thread(target=self._schedule, name="poller", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.stopped_mono is None and self.started_mono is not None:
            self.stopped_mono = self.clock()
        close = getattr(self.sink, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> Poller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def subscribe(self, listener: Callable[[Sample], None]) -> None:
        """`listener(sample)` after each sample completes (e.g. live failure reporting)."""
        self._listeners.append(listener)

    # -- sampling --------------------------------------------------------------------

    def _schedule(self) -> None:
        t0 = self.clock()
        n = 0
        while not self._stop.is_set():
            due = t0 + n * self.interval
            now = self.clock()
            if due > now:
                if self._sleep_until(self._stop, due - now):
                    break
            elif now - due > self.interval:
                # the scheduler was starved (machine suspended): skip to the current slot
                behind = int((now - due) / self.interval)
                self.skipped_ticks += behind
                n += behind
                due = t0 + n * self.interval
            with self._lock:
                seq = self._seq
                self._seq += 1
            sample = Sample(seq=seq, wall=self.wall() - (self.clock() - due), mono=due,
                            steps=self.recorder.active_names())
            pool = self._pool
            if pool is None:
                break
            try:
                pool.submit(self._probe, sample)
            except RuntimeError:  # pool shut down under us
                break
            n += 1

    def _probe(self, sample: Sample) -> None:
        started = self.clock()
        sample.start_delay = max(started - sample.mono, 0.0)
        try:
            result = self.fetch(self.url, self.connect_timeout, self.read_timeout)
        except Exception as exc:
            sample.latency = self.clock() - started
            sample.error = classify_exception(exc)
            sample.detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            sample.latency = self.clock() - started
            sample.status = result.status
            sample.router_error = header(result.headers, "X-Cf-Routererror")
            sample.request_id = header(result.headers, "X-Vcap-Request-Id")
            sample.error = classify_response(result, self.body_ok)
            if sample.error is None:
                sample.instance = self.instance_from(result.body)
            else:
                sample.detail = result.body[:200]
        self.record(sample)

    def record(self, sample: Sample) -> None:
        """Store a completed sample (also used by tests to feed samples directly)."""
        with self._lock:
            self._samples.append(sample)
        if self.sink is not None:
            try:
                self.sink(sample)
            except Exception:
                pass
        for listener in list(self._listeners):
            try:
                listener(sample)
            except Exception:
                pass

    # -- results ---------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        with self._lock:
            return sorted(self._samples, key=lambda s: s.seq)

    def windows(self) -> list[OutageWindow]:
        return outage_windows(self.samples(), self.interval, self.recorder)

    def violations(self, step: Step | str) -> list[OutageWindow]:
        """The outage windows that broke `step`'s policy (empty when it held)."""
        if isinstance(step, str):
            found = self.recorder.get(step)
            if found is None:
                raise KeyError(f"no step named {step!r} was recorded")
            step = found
        return violations_for(step, self.windows(), self.recorder, self.clock())

    def wait_ok(self, timeout: float, since_seq: int = 0) -> Sample | None:
        """Wait until a routable sample with seq >= since_seq arrives (poll start-up, CF
        recovery). Returns it, or None at the timeout."""
        deadline = self.clock() + timeout
        while True:
            with self._lock:
                ok = [s for s in self._samples if s.ok and s.seq >= since_seq]
            if ok:
                return min(ok, key=lambda s: s.seq)
            if self.clock() >= deadline or self._stop.is_set():
                return None
            time.sleep(min(self.interval, 0.05))

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._seq

    def summary(self, step: Step | None = None) -> dict[str, Any]:
        """Counts for the whole run or one step: attempted, failed, windows, longest, total."""
        samples = self.samples()
        if step is not None:
            now = self.clock()
            samples = [s for s in samples if step.covers(s.mono, now)]
        windows = outage_windows(samples, self.interval, self.recorder)
        failed = sum(1 for s in samples if not s.ok)
        return {
            "attempted": len(samples), "failed": failed,
            "availability": (1 - failed / len(samples)) if samples else None,
            "windows": len(windows),
            "longest_outage": max((w.duration for w in windows), default=0.0),
            "total_downtime": sum(w.duration for w in windows),
            "instances_seen": sorted({s.instance for s in samples if s.instance}),
            "interval": self.interval,
        }
