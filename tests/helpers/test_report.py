"""Report artifacts: report.json content, timeline.html, task logs, summary, redaction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from helpers.poller import Sample, outage_windows
from helpers.report import (
    build_report,
    render_timeline,
    summary_lines,
    write_report,
    write_task_log,
    write_timeline,
)
from helpers.steps import StepRecorder


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def scenario():
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    d1 = rec.begin("upgrade D1", "diego")
    clock.t = 1.0
    rec.end(d1)
    cf = rec.begin("upgrade CF", "cf")
    clock.t = 2.0
    rec.end(cf, "failed", "BOSH task 7 for deployment cf-warden ended in state 'error': boom")
    samples = [Sample(seq=i, wall=1.7e9 + i * 0.1, mono=i * 0.1,
                      status=200 if i not in (3, 4, 15) else 502,
                      error=None if i not in (3, 4, 15) else "endpoint_failure",
                      instance="g0") for i in range(20)]
    windows = outage_windows(samples, 0.1, rec)
    return rec, samples, windows


def test_build_report_contains_steps_windows_results_and_redacts():
    rec, _samples, windows = scenario()
    report = build_report(
        steps=rec.steps(), windows=windows,
        results=[{"nodeid": "t::a", "outcome": "passed"}, {"nodeid": "t::b", "outcome": "failed",
                                                            "message": "password s3cret leaked"}],
        violations={"upgrade D1": [windows[0]]},
        step_summaries={"upgrade D1": {"attempted": 10, "failed": 2, "longest_outage": 0.2}},
        versions={"cf-warden": {"cf": "220"}}, meta={"config": "x"},
        redact=lambda s: s.replace("s3cret", "<redacted>"))
    assert report["outcome"] == "failed" and report["totals"] == {"passed": 1, "failed": 1}
    assert [s["name"] for s in report["steps"]] == ["upgrade D1", "upgrade CF"]
    assert report["steps"][0]["violations"][0]["failed_samples"] == 2
    assert report["steps"][1]["outcome"] == "failed" and "task 7" in report["steps"][1]["message"]
    assert len(report["outage_windows"]) == 2 and report["outage_windows"][0]["steps"] == ["upgrade D1"]
    assert report["outage_windows"][0]["first_fail"].startswith("20")
    assert "s3cret" not in json.dumps(report)
    assert report["versions"]["cf-warden"]["cf"] == "220"


def test_write_report_is_valid_json(tmp_path):
    rec, _, windows = scenario()
    path = write_report(tmp_path, build_report(steps=rec.steps(), windows=windows))
    assert json.loads(path.read_text())["format"] == 1
    assert not list(tmp_path.glob(".*tmp"))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_timeline_is_self_contained_and_shows_steps_and_outages(tmp_path):
    rec, samples, windows = scenario()
    path = write_timeline(tmp_path, samples, rec.steps(), windows)
    text = path.read_text()
    parser = _Collect()
    parser.feed(text)
    assert "svg" in parser.tags and "script" not in parser.tags
    assert not re.search(r"(src|href)=\"https?://", text)  # no external resources
    joined = " ".join(parser.text)
    assert "upgrade D1" in joined and "upgrade CF" in joined
    assert "20 samples, 3 failed, 2 outage window(s)" in joined
    assert 'fill="#d62728"' in text  # failed columns drawn red
    assert "endpoint_failure x2" in joined


def test_timeline_escapes_and_redacts():
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 0)
    rec.end(rec.begin("<script>alert(1)</script> pw=hunter2", "setup"))
    text = render_timeline([], rec.steps(), [], redact=lambda s: s.replace("hunter2", "***"))
    assert "<script>" not in text and "hunter2" not in text


def test_timeline_with_no_data():
    assert "0 samples" in render_timeline([], [], [])


@dataclass
class Task:
    id: int
    deployment: str | None
    state: str
    description: str = "create deployment"
    result: str | None = None
    duration: float = 1.0
    events_raw: str = ""
    events: list = field(default_factory=list)


def test_task_log_written_per_task_and_redacted(tmp_path):
    raw = '{"time":1,"stage":"Updating instance","task":"cell_z1/0","state":"started"}\n' \
          '{"time":2,"error":{"code":100,"message":"password hunter2 wrong"}}\n'
    p = write_task_log(tmp_path, Task(42, "cf-warden-diego-cell1", "error", events_raw=raw),
                       redact=lambda s: s.replace("hunter2", "***"))
    assert p.name == "task-42-cf-warden-diego-cell1.log"
    text = p.read_text()
    head = json.loads(text.splitlines()[0][2:])
    assert head["state"] == "error" and head["id"] == 42
    assert "Updating instance" in text and "hunter2" not in text


def test_summary_lines_table():
    rec, _, windows = scenario()
    report = build_report(steps=rec.steps(), windows=windows,
                          violations={"upgrade D1": [windows[0]]},
                          step_summaries={"upgrade D1": {"attempted": 10, "failed": 2, "longest_outage": 0.2}},
                          poller_summary={"attempted": 20, "failed": 3, "windows": 2, "longest_outage": 0.2,
                                          "interval": 0.1})
    lines = summary_lines(report)
    assert lines[0].split()[:3] == ["step", "kind", "outcome"]
    d1 = next(ln for ln in lines if ln.startswith("upgrade D1"))
    assert "passed" in d1 and "0.20s" in d1 and "enforced (1 violation(s))" in d1
    cf = next(ln for ln in lines if ln.startswith("upgrade CF"))
    assert "failed" in cf and "recorded" in cf
    assert lines[-1].startswith("A0 poller: 20 samples, 3 failed")
