"""Probers: the fixed schedule (fake clock), the loop, kick and settle, a real local server."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time

import pytest
import requests

from fixtures.localserver import ControllableServer
from helpers.http_probe import FetchResult, http_attempt, requests_fetch
from helpers.prober import FixedRateProber, LoopProber
from helpers.samples import JsonlWriter, Sample, outage_windows
from helpers.steps import StepRecorder


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.t

    def advance(self, dt: float) -> None:
        with self.lock:
            self.t += dt


def http_prober(url: str, interval: float = 0.05, ct: float = 0.5, rt: float = 0.5, **kw) -> FixedRateProber:
    return FixedRateProber("a0_routable", http_attempt(url, requests_fetch(requests.Session), ct, rt),
                           interval=interval, attempt_timeout=ct + rt, **kw)


# ------------------------------------------------------------------ schedule with a fake clock


def test_fixed_schedule_with_fake_clock_and_slow_requests_do_not_delay_next_sample():
    clock = FakeClock(1000.0)
    release = threading.Event()

    def sleep_until(stop: threading.Event, delay: float) -> bool:
        clock.advance(delay)
        if clock() >= 1001.0 - 1e-9:
            return True
        return stop.is_set()

    calls: list[float] = []

    def fetch(url, ct, rt):
        calls.append(clock())
        if len(calls) == 3:
            release.wait(2)  # a hung request
        return FetchResult(200, {}, "inst-1")

    p = FixedRateProber("a0_routable", http_attempt("http://x/id", fetch), interval=0.1, clock=clock,
                        wall=lambda: 0.0, sleep_until=sleep_until)
    p.start()
    deadline = time.monotonic() + 5
    while len(p.samples()) < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    p.stop()
    samples = p.samples()
    assert [s.seq for s in samples] == list(range(10))
    assert [round(s.mono - 1000.0, 6) for s in samples] == [round(i * 0.1, 6) for i in range(10)]
    assert all(s.ok and s.instance == "inst-1" for s in samples)
    assert not p.running


def test_pool_sized_for_timeouts():
    p = FixedRateProber("x", lambda s: None, interval=0.1, attempt_timeout=2.0, workers=4)
    assert p.workers >= 22


def test_invalid_interval():
    with pytest.raises(ValueError):
        FixedRateProber("x", lambda s: None, interval=0)


# ------------------------------------------------------------------ real local server


@pytest.fixture
def server():
    srv = ControllableServer(body="guid-0").start()
    yield srv
    srv.close()


def test_real_server_outage_detected_and_attributed(server, tmp_path):
    rec = StepRecorder()
    writer = JsonlWriter(tmp_path / "samples.jsonl")
    p = http_prober(server.url, recorder=rec, sink=writer)
    p.start()
    assert p.wait_ok(3) is not None
    with rec.step("upgrade D3", kind="diego"):
        time.sleep(0.15)
        server.outage("502", 0.3)
        time.sleep(0.15)
    p.stop()
    writer.close()
    (w,) = outage_windows(p.samples(), p.interval, rec)
    assert w.errors == {"endpoint_failure": w.failed_samples}
    assert w.router_errors == {"endpoint_failure": w.failed_samples}
    assert abs(w.duration - 0.3) <= 0.05 + 0.03
    assert w.steps == ["upgrade D3"]
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert len(lines) == len(p.samples())
    rows = [json.loads(x) for x in lines]
    assert any(r["error"] == "endpoint_failure" and r["steps"] == ["upgrade D3"] for r in rows)
    assert any(r["instance"] == "guid-0" for r in rows)


def test_hung_backend_does_not_stop_sampling(server):
    p = http_prober(server.url, ct=0.3, rt=0.3)
    server.hang_seconds = 2
    p.start()
    p.wait_ok(3)
    server.mode = "hang"
    time.sleep(0.8)
    server.mode = "ok"
    server.release.set()
    time.sleep(0.4)
    p.stop()
    samples = p.samples()
    hung = [s for s in samples if s.error == "read_timeout"]
    # ~0.8 s of hang at 20 Hz: many read timeouts, not one blocked sample
    assert len(hung) >= 8
    # a sampler blocked by the hung request would start samples a whole read timeout (0.3 s)
    # late; scheduling jitter on a loaded machine stays well below that
    assert max(s.start_delay for s in samples) < 0.25
    gaps = [b.mono - a.mono for a, b in itertools.pairwise(samples)]
    assert max(gaps) == pytest.approx(0.05, abs=1e-6)


def test_refused_connection_counts_as_failure():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = http_prober(f"http://127.0.0.1:{port}/id")
    p.start()
    time.sleep(0.3)
    p.stop()
    assert p.samples() and all(x.error == "connect_refused" for x in p.samples())
    (w,) = outage_windows(p.samples(), p.interval)
    assert w.ongoing


def test_stop_is_idempotent_and_joins(server):
    p = http_prober(server.url).start()
    time.sleep(0.1)
    p.stop()
    n = len(p.samples())
    p.stop()
    time.sleep(0.1)
    assert len(p.samples()) == n
    assert not any(t.name.startswith("probe-") for t in threading.enumerate())


# ------------------------------------------------------------------ kick, settle, the loop, CPU


def test_kick_samples_between_scheduled_ticks():
    p = FixedRateProber("x", lambda s: None, interval=5.0).start()
    try:
        assert p.wait_ok(2) is not None  # the first tick is at once
        p.kick()
        deadline = time.monotonic() + 2
        while len(p.samples()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(p.samples()) == 2  # the kick, long before the next tick at 5 s
    finally:
        p.stop()


def test_settle_waits_for_attempts_that_began_before_a_moment():
    release = threading.Event()

    def slow(sample: Sample) -> None:
        release.wait(3)

    p = LoopProber("push", slow, interval=0.01, attempt_timeout=5).start()
    try:
        time.sleep(0.1)
        now = time.monotonic()
        assert p.settle(now, 0.2) is False  # the attempt that began before `now` still runs
        threading.Timer(0.2, release.set).start()
        assert p.settle(now, 3) is True
        assert p.samples()[0].end_mono is not None and p.samples()[0].end_mono > p.samples()[0].mono
    finally:
        release.set()
        p.stop()


def test_loop_runs_one_attempt_at_a_time_at_most_once_per_interval():
    running = {"n": 0, "max": 0}
    lock = threading.Lock()

    def attempt(sample: Sample) -> None:
        with lock:
            running["n"] += 1
            running["max"] = max(running["max"], running["n"])
        time.sleep(0.02)
        with lock:
            running["n"] -= 1

    p = LoopProber("x", attempt, interval=0.1).start()
    time.sleep(0.55)
    p.stop()
    starts = [s.mono for s in p.samples()]
    assert running["max"] == 1
    assert 4 <= len(starts) <= 7
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.1 - 0.005


def test_an_attempt_that_raises_is_a_failed_sample_not_a_dead_prober():
    calls = {"n": 0}

    def attempt(sample: Sample) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")

    p = LoopProber("x", attempt, interval=0.01).start()
    ok = p.wait_ok(2)
    p.stop()
    first = p.samples()[0]
    assert first.error == "exception" and "RuntimeError: boom" in first.detail and ok is not None


def test_cpu_of_attempts_is_accounted():
    def busy(sample: Sample) -> None:
        end = time.thread_time() + 0.01
        while time.thread_time() < end:
            pass

    p = LoopProber("x", busy, interval=0.01).start()
    time.sleep(0.2)
    p.stop()
    assert p.cpu_seconds >= 0.01 * len(p.samples()) * 0.9


def test_wait_ok_since_a_moment_ignores_earlier_successes():
    p = FixedRateProber("x", lambda s: None, interval=10.0).start()
    try:
        first = p.wait_ok(2)
        assert first is not None
        assert p.wait_ok(0.2, since_mono=first.mono + 0.001) is None
    finally:
        p.stop()
