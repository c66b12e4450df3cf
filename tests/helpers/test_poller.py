"""Poller: taxonomy, outage windows, policy, schedule (fake clock) and a real local server."""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import threading
import time

import pytest
import requests

from fixtures.localserver import ControllableServer
from helpers.poller import (
    FetchResult,
    JsonlWriter,
    Poller,
    Sample,
    classify_exception,
    classify_response,
    outage_windows,
    requests_fetch,
    shared_session_fetch,
)
from helpers.steps import StepPolicy, StepRecorder

# ------------------------------------------------------------------ taxonomy


@pytest.mark.parametrize("status,headers,body,expected", [
    (200, {}, "abc", None),
    (404, {"X-Cf-Routererror": "unknown_route"}, "", "unknown_route"),
    (502, {"X-Cf-Routererror": "endpoint_failure"}, "", "endpoint_failure"),
    (503, {}, "", "http_503"),
    (500, {}, "", "other_status"),
    (301, {}, "", "other_status"),
])
def test_classify_response(status, headers, body, expected):
    assert classify_response(FetchResult(status, headers, body)) == expected


def test_body_mismatch_when_body_check_fails():
    assert classify_response(FetchResult(200, {}, ""), body_ok=bool) == "body_mismatch"
    assert classify_response(FetchResult(200, {}, "x"), body_ok=bool) is None


def test_classify_plain_socket_exceptions():
    assert classify_exception(socket.gaierror(-2, "Name or service not known")) == "dns"
    assert classify_exception(ConnectionRefusedError(111, "Connection refused")) == "connect_refused"
    assert classify_exception(ssl.SSLCertVerificationError("certificate verify failed")) == "tls"
    assert classify_exception(ConnectionResetError(104, "reset")) == "connect_reset"


def _requests_error(url: str, timeout=(0.5, 0.5)) -> BaseException:
    try:
        requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("expected an error")


def test_classify_requests_connect_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert classify_exception(_requests_error(f"http://127.0.0.1:{port}/")) == "connect_refused"


def test_classify_requests_read_timeout_and_reset():
    srv = ControllableServer().start()
    try:
        srv.mode = "hang"
        assert classify_exception(_requests_error(srv.url, (0.5, 0.2))) == "read_timeout"
        srv.release.set()
        srv.mode = "close"
        assert classify_exception(_requests_error(srv.url)) == "connect_reset"
    finally:
        srv.close()


def test_classify_requests_tls_error():
    srv = ControllableServer().start()  # plain HTTP spoken to a TLS client
    try:
        assert classify_exception(_requests_error(srv.url.replace("http:", "https:"))) == "tls"
    finally:
        srv.close()


def test_classify_requests_connect_timeout():
    exc = requests.exceptions.ConnectTimeout("Connection to 127.0.0.1 timed out. (connect timeout=1)")
    assert classify_exception(exc) == "connect_timeout"


def test_classify_requests_dns():
    exc = requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='nope.invalid', port=80): Failed to resolve 'nope.invalid'")
    assert classify_exception(exc) == "dns"


# ------------------------------------------------------------------ windows and policy


def mk(seq: int, ok: bool, err: str = "endpoint_failure", interval: float = 0.1, t0: float = 1000.0,
       router: str | None = None) -> Sample:
    return Sample(seq=seq, wall=1.7e9 + seq * interval, mono=t0 + seq * interval,
                  status=200 if ok else 502, error=None if ok else err,
                  router_error=None if ok else router)


def pattern(p: str, **kw) -> list[Sample]:
    return [mk(i, c == ".", **kw) for i, c in enumerate(p)]


def test_windows_merge_consecutive_failures():
    ws = outage_windows(pattern("..xxx..x.."), 0.1)
    assert len(ws) == 2
    w = ws[0]
    assert w.failed_samples == 3
    assert w.start_mono == pytest.approx(1000.1)  # last ok before
    assert w.end_mono == pytest.approx(1000.5)  # first ok after
    assert w.duration_max == pytest.approx(0.4)
    assert w.duration == pytest.approx(0.3)  # midpoint estimate
    assert w.errors == {"endpoint_failure": 3}
    assert ws[1].failed_samples == 1 and ws[1].duration == pytest.approx(0.1)


def test_window_at_start_and_ongoing_at_end():
    ws = outage_windows(pattern("xx...xx"), 0.1)
    assert ws[0].start_mono == pytest.approx(1000.0)  # no ok before: first failure
    assert ws[1].ongoing and ws[1].end_mono is None
    assert "ongoing" in ws[1].describe()


def test_windows_order_by_seq_not_completion():
    samples = pattern("..xx..")
    samples.reverse()
    assert len(outage_windows(samples, 0.1)) == 1


def test_window_counts_error_classes_and_router_errors():
    s = [mk(0, True), mk(1, False, "http_503"), mk(2, False, "endpoint_failure", router="endpoint_failure"),
         mk(3, True)]
    (w,) = outage_windows(s, 0.1)
    assert w.errors == {"http_503": 1, "endpoint_failure": 1}
    assert w.router_errors == {"endpoint_failure": 1}
    assert "http_503 x1" in w.describe() and "endpoint_failure x1" in w.describe()


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


def poller_with_steps(spec: list[tuple[str, str, float, float]], samples: list[Sample],
                      policies=None) -> tuple[Poller, StepRecorder]:
    """spec: (name, kind, start, end) in monotonic seconds."""
    clock = FakeClock(0)
    rec = StepRecorder(clock=clock, wall=lambda: 0, policies=policies)
    for name, kind, start, end in spec:
        clock.t = start
        st = rec.begin(name, kind)
        clock.t = end
        rec.end(st)
    clock.t = 10_000
    p = Poller("http://unused", lambda *a: FetchResult(200, {}, "x"), recorder=rec, clock=clock)
    for s in samples:
        p.record(s)
    return p, rec


def test_violations_only_for_enforced_steps_that_overlap():
    samples = pattern("....xx......xx.....", t0=1000.0)
    # diego step covers the first outage (1000.4-1000.5); cf step covers the second (1001.2-1001.3)
    p, _ = poller_with_steps([("upgrade D1", "diego", 1000.3, 1000.7), ("upgrade CF", "cf", 1001.0, 1001.5)],
                             samples)
    (v,) = p.violations("upgrade D1")
    assert v.failed_samples == 2 and v.steps == ["upgrade D1"]
    assert p.violations("upgrade CF") == []
    windows = p.windows()
    assert [w.steps for w in windows] == [["upgrade D1"], ["upgrade CF"]]


def test_outage_starting_in_cf_is_exempt_in_following_diego_step_until_a0_answers():
    # CF runs 1000.0-1000.45; the outage starts in CF and continues into the D4 step.
    samples = pattern("..xxxxxxx....x..", t0=1000.0)
    p, _ = poller_with_steps([("upgrade CF", "cf", 1000.0, 1000.45), ("upgrade D4", "diego", 1000.5, 1002.0)],
                             samples)
    vs = p.violations("upgrade D4")
    # the CF-born window is exempt; the later one (seq 13) is not
    assert len(vs) == 1 and vs[0].first_fail_mono == pytest.approx(1001.3)


def test_max_outage_policy_tolerates_short_windows():
    samples = pattern("..x.....xxxxxx..", t0=1000.0)
    p, _ = poller_with_steps([("upgrade D3", "diego", 1000.0, 1002.0)], samples)
    assert len(p.violations("upgrade D3")) == 2  # default: any failed sample counts
    p2, _ = poller_with_steps([("upgrade D3", "diego", 1000.0, 1002.0)], samples,
                              policies={"upgrade D3": StepPolicy(True, 0.3)})
    (v,) = p2.violations("upgrade D3")
    assert v.failed_samples == 6


def test_violations_of_unknown_step_is_an_error():
    p, _ = poller_with_steps([], [])
    with pytest.raises(KeyError, match="no step named"):
        p.violations("nope")


def test_summary_per_step():
    samples = pattern("....xx....", t0=1000.0)
    p, rec = poller_with_steps([("s", "diego", 1000.3, 1000.65)], samples)
    summary = p.summary(rec.get("s"))
    assert summary["attempted"] == 4 and summary["failed"] == 2 and summary["windows"] == 1
    whole = p.summary()
    assert whole["attempted"] == 10 and whole["availability"] == pytest.approx(0.8)


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

    p = Poller("http://x/id", fetch, interval=0.1, clock=clock, wall=lambda: 0.0, sleep_until=sleep_until)
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
    p = Poller("http://x", lambda *a: FetchResult(200, {}, ""), interval=0.1, connect_timeout=1,
               read_timeout=1, workers=4)
    assert p.workers >= 22


def test_invalid_interval():
    with pytest.raises(ValueError):
        Poller("http://x", lambda *a: FetchResult(200, {}, ""), interval=0)


# ------------------------------------------------------------------ real local server


@pytest.fixture
def server():
    srv = ControllableServer(body="guid-0").start()
    yield srv
    srv.close()


def test_real_server_outage_detected_and_attributed(server, tmp_path):
    rec = StepRecorder()
    writer = JsonlWriter(tmp_path / "samples.jsonl")
    p = Poller(server.url, requests_fetch(requests.Session), interval=0.05, connect_timeout=0.5,
               read_timeout=0.5, recorder=rec, sink=writer)
    p.start()
    assert p.wait_ok(3) is not None
    with rec.step("upgrade D3", kind="diego"):
        time.sleep(0.15)
        server.outage("502", 0.3)
        time.sleep(0.15)
    p.stop()
    (w,) = p.windows()
    assert w.errors == {"endpoint_failure": w.failed_samples}
    assert w.router_errors == {"endpoint_failure": w.failed_samples}
    assert abs(w.duration - 0.3) <= 0.05 + 0.03
    assert w.steps == ["upgrade D3"]
    (v,) = p.violations("upgrade D3")
    assert v is w or v.first_fail_mono == w.first_fail_mono
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert len(lines) == len(p.samples())
    rows = [json.loads(x) for x in lines]
    assert any(r["error"] == "endpoint_failure" and r["steps"] == ["upgrade D3"] for r in rows)
    assert any(r["instance"] == "guid-0" for r in rows)


def test_hung_backend_does_not_stop_sampling(server):
    p = Poller(server.url, requests_fetch(requests.Session), interval=0.05, connect_timeout=0.3,
               read_timeout=0.3)
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


@pytest.mark.parametrize("make", ["shared", "per_request"])
def test_every_request_uses_a_fresh_connection(server, make):
    session = requests.Session()
    fetch = shared_session_fetch(session) if make == "shared" else requests_fetch(requests.Session)
    for _ in range(5):
        assert fetch(server.url, 1.0, 1.0).status == 200
    assert len(server.client_ports) == 5


def test_refused_connection_counts_as_failure():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = Poller(f"http://127.0.0.1:{port}/id", requests_fetch(requests.Session), interval=0.05)
    p.start()
    time.sleep(0.3)
    p.stop()
    assert p.samples() and all(x.error == "connect_refused" for x in p.samples())
    (w,) = p.windows()
    assert w.ongoing


def test_stop_is_idempotent_and_joins(server):
    p = Poller(server.url, requests_fetch(requests.Session), interval=0.05).start()
    time.sleep(0.1)
    p.stop()
    n = len(p.samples())
    p.stop()
    time.sleep(0.1)
    assert len(p.samples()) == n
    assert not any(t.name.startswith(("poller", "poll_")) for t in threading.enumerate())


def test_a_skipped_step_has_no_violations():
    # the chain records a step that never ran as a zero-length "skipped" step at skip time
    samples = pattern("..xxxx..", t0=1000.0)
    p, rec = poller_with_steps([("upgrade D2", "diego", 1000.3, 1000.3)], samples)
    assert len(p.violations("upgrade D2")) == 1
    rec.get("upgrade D2").outcome = "skipped"
    assert p.violations("upgrade D2") == []
