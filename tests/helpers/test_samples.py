"""Samples and outage windows: merging, bounds, attribution to steps and BOSH tasks."""

from __future__ import annotations

import json

import pytest

from helpers.samples import JsonlWriter, Sample, outage_windows
from helpers.steps import StepRecorder


def mk(seq: int, ok: bool, err: str = "endpoint_failure", interval: float = 0.1, t0: float = 1000.0,
       router: str | None = None, **kw) -> Sample:
    return Sample(seq=seq, wall=1.7e9 + seq * interval, mono=t0 + seq * interval,
                  status=200 if ok else 502, error=None if ok else err,
                  router_error=None if ok else router, **kw)


def pattern(p: str, **kw) -> list[Sample]:
    """`.` ok, `x` failed, `?` inconclusive (failed to measure)."""
    out = []
    for i, c in enumerate(p):
        s = mk(i, c == ".", **kw)
        if c == "?":
            s.error, s.conclusive = "emit_failed", False
        out.append(s)
    return out


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
    assert "still failing at the end of what was measured" in ws[1].describe()
    assert "at most" not in ws[1].describe()  # an open window has no upper bound to give


def test_a_closed_window_reads_as_an_estimate_within_its_bound():
    """The transcript of a failing run read 'lasting 1.11s (<= 1.10s) (ongoing)': an estimate
    above its own bound. A closed window gives its estimate and its upper bound, in that order."""
    (w,) = outage_windows(pattern("..xxx.."), 0.1)
    assert "lasting about 0.30s (at most 0.40s)" in w.describe()
    assert w.duration <= w.duration_max


def test_windows_order_by_time_not_completion():
    samples = pattern("..xx..")
    samples.reverse()
    assert len(outage_windows(samples, 0.1)) == 1


def test_window_counts_error_classes_router_errors_and_keeps_details():
    s = [mk(0, True), mk(1, False, "http_503", detail="503 no gorouter"),
         mk(2, False, "endpoint_failure", router="endpoint_failure"), mk(3, True)]
    (w,) = outage_windows(s, 0.1)
    assert w.errors == {"http_503": 1, "endpoint_failure": 1}
    assert w.router_errors == {"endpoint_failure": 1}
    assert "http_503 x1" in w.describe() and "endpoint_failure x1" in w.describe()
    assert w.details == ["503 no gorouter"] and "e.g. 503 no gorouter" in w.describe()


def test_inconclusive_samples_neither_make_nor_break_a_window():
    # a failure, then attempts that could not measure, then more failures: one window
    ws = outage_windows(pattern("..x??x..??.."), 0.1)
    assert len(ws) == 1 and ws[0].failed_samples == 2
    assert outage_windows(pattern("..????.."), 0.1) == []


def test_long_attempts_cover_their_whole_span():
    # a push attempt that began at 1000.0 and failed at 1003.0 overlaps a step at 1002-1004
    rec = StepRecorder(clock=lambda: 2000.0, wall=lambda: 0.0)
    clock = {"t": 1002.0}
    rec.clock = lambda: clock["t"]
    step = rec.begin("upgrade D3", "diego")
    clock["t"] = 1004.0
    rec.end(step)
    failed = mk(0, False, "push_failed", t0=1000.0, end_mono=1003.0)
    (w,) = outage_windows([failed, mk(1, True, t0=1004.5)], 1.0, rec)
    assert w.fail_span == (1000.0, 1003.0) and w.steps == ["upgrade D3"]


def test_windows_name_the_bosh_tasks_of_the_operations_they_overlap():
    t = {"now": 1000.0}
    rec = StepRecorder(clock=lambda: t["now"], wall=lambda: 1.7e9 + t["now"])
    story = rec.begin("upgrade D3", "diego", {"story": "d3"})
    op = rec.begin("stop D4 (cf-warden-diego-cell2)", "diego", {"task": 12})
    t["now"] = 1000.5
    rec.end(op)
    other = rec.begin("deploy D3 at V-prime (cf-warden-diego-cell1)", "diego", {"task": 11})
    t["now"] = 1001.0
    rec.end(other)
    rec.end(story)
    (w,) = outage_windows(pattern("..xx......", t0=1000.0), 0.1, rec)
    assert w.steps == ["upgrade D3", "stop D4 (cf-warden-diego-cell2)"] and w.tasks == [12]
    assert "(BOSH task 12)" in w.describe()


def test_jsonl_writer_streams_every_sample_with_its_measurement(tmp_path):
    writer = JsonlWriter(tmp_path / "samples.jsonl")
    for s in pattern(".x?"):
        s.measurement = "a0_routable"
        writer(s)
    writer.close()
    rows = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [(r["measurement"], r["ok"], r["conclusive"]) for r in rows] == [
        ("a0_routable", True, True), ("a0_routable", False, True), ("a0_routable", False, False)]


def test_jsonl_writer_redacts_what_a_sample_quotes(tmp_path):
    from helpers.redaction import REDACTOR

    secret = "sample-" + "5e" * 16
    REDACTOR.register(secret)
    writer = JsonlWriter(tmp_path / "samples.jsonl")
    writer(Sample(1, 1.0, 1.0, error="http_error", detail=f"401 from uaa: {secret}", measurement="a0_routable"))
    writer.close()
    (line,) = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert json.loads(line)["detail"] == "401 from uaa: [REDACTED]" and secret not in line
