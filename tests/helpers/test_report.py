"""Report artifacts: report.json content, timeline.html, task logs, summary, redaction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from helpers import story
from helpers.report import (
    MeasurementData,
    build_report,
    render_timeline,
    story_rows,
    summary_lines,
    write_report,
    write_task_log,
    write_timeline,
)
from helpers.samples import Sample, outage_windows
from helpers.steps import StepRecorder


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def scenario():
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 1.7e9 + clock.t)
    d1 = rec.begin("upgrade D1", "diego", {"story": "d1"})
    op = rec.begin("deploy D1 at V-prime (cf-warden-diego-database)", "diego", {"task": 6})
    clock.t = 1.0
    rec.end(op)
    rec.end(d1)
    cf = rec.begin("upgrade CF", "cf", {"story": "cf"})
    clock.t = 2.0
    rec.end(cf, "failed", "BOSH task 7 for deployment cf-warden ended in state 'error': boom")
    samples = [Sample(seq=i, wall=1.7e9 + i * 0.1, mono=i * 0.1,
                      status=200 if i not in (3, 4, 15) else 502,
                      error=None if i not in (3, 4, 15) else "endpoint_failure",
                      instance="g0", measurement="a0_routable") for i in range(20)]
    windows = outage_windows(samples, 0.1, rec)
    ssh = [Sample(seq=i, wall=1.7e9 + i, mono=i * 0.5, measurement="a0_ssh") for i in range(4)]
    measurements = [MeasurementData("a0_routable", "A0 routable", samples, windows,
                                    {"attempted": 20, "failed": 3, "windows": 2, "longest_outage": 0.2,
                                     "interval": 0.1}),
                    MeasurementData("a0_ssh", "A0 ssh", ssh, [], {"attempted": 4, "failed": 0, "windows": 0,
                                                                 "longest_outage": 0.0, "interval": 2.0})]
    record = {"steps": {
        "d1": {"outcome": "passed", "invocation": 0,
               "ops": [{"op": "deploy D1 at V-prime", "deployment": "cf-warden-diego-database", "task": 6}],
               "checks": {"smoke": {"ok": True, "seconds": 0.8}, "scale": {"ok": True, "seconds": 0.3}},
               "measurements": {"a0_routable": {"title": "A0 routable", "outcome": "failed", "attempted": 10,
                                                "failed": 2, "longest_outage": 0.2, "tasks": [6],
                                                "policy": {"enforce": True}},
                                "a0_ssh": {"title": "A0 ssh", "outcome": "passed", "attempted": 2, "failed": 0,
                                           "longest_outage": 0.0, "tasks": [], "policy": {"enforce": True}}}},
        "cf": {"outcome": "failed", "invocation": 0}}}
    return rec, measurements, record


def test_story_rows_follow_the_story_and_say_what_never_ran():
    rec, _, record = scenario()
    rows = story_rows(story.STORY, record, rec.steps())
    assert [r["title"] for r in rows] == [s.title for s in story.STORY]
    assert [r["outcome"] for r in rows] == ["not run", "passed", "not run", "not run", "failed", "not run"]
    d1 = rows[1]
    assert d1["tasks"] == [6] and d1["seconds"] == 1.0 and d1["checks"]["smoke"]["ok"]
    assert "task 7" in rows[4]["message"]


def test_build_report_contains_story_measurements_windows_results_and_redacts():
    rec, measurements, record = scenario()
    report = build_report(
        steps=rec.steps(), measurements=measurements, story=story_rows(story.STORY, record, rec.steps()),
        results=[{"nodeid": "t::a", "outcome": "passed"}, {"nodeid": "t::b", "outcome": "failed",
                                                            "message": "password s3cret leaked"}],
        versions={"cf-warden": {"cf": "220"}}, meta={"config": "x"}, run_state=record,
        redact=lambda s: s.replace("s3cret", "<redacted>"))
    assert report["outcome"] == "failed" and report["totals"] == {"passed": 1, "failed": 1}
    assert [s["name"] for s in report["steps"]] == ["upgrade D1", "deploy D1 at V-prime (cf-warden-diego-database)",
                                                    "upgrade CF"]
    assert report["story"][1]["measurements"]["a0_routable"]["outcome"] == "failed"
    assert report["measurements"]["a0_ssh"] == {"title": "A0 ssh", "attempted": 4, "failed": 0, "windows": 0,
                                               "longest_outage": 0.0, "interval": 2.0}
    assert len(report["outage_windows"]) == 2
    first = report["outage_windows"][0]
    assert first["measurement"] == "a0_routable" and first["steps"][0] == "upgrade D1" and first["tasks"] == [6]
    assert first["first_fail"].startswith("20")
    assert "s3cret" not in json.dumps(report)
    assert report["versions"]["cf-warden"]["cf"] == "220" and report["run_state"]["steps"]["d1"]


def test_write_report_is_valid_json(tmp_path):
    rec, measurements, _ = scenario()
    path = write_report(tmp_path, build_report(steps=rec.steps(), measurements=measurements))
    assert json.loads(path.read_text())["format"] == 2
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


def test_timeline_is_self_contained_with_a_row_per_measurement(tmp_path):
    rec, measurements, _ = scenario()
    path = write_timeline(tmp_path, measurements, rec.steps())
    text = path.read_text()
    parser = _Collect()
    parser.feed(text)
    assert "svg" in parser.tags and "script" not in parser.tags
    assert not re.search(r"(src|href)=\"https?://", text)  # no external resources
    joined = " ".join(parser.text)
    assert "upgrade D1" in joined and "upgrade CF" in joined
    assert "A0 routable: 20 samples, 3 failed, 2 outage window(s); A0 ssh: 4 samples, 0 failed" in joined
    assert ">A0 routable</text>" in text and ">A0 ssh</text>" in text  # one labelled row each
    assert 'fill="#d62728"' in text  # failed columns drawn red, as the legend says
    assert "endpoint_failure x2" in joined and "deploy D1 at V-prime" in joined


def test_timeline_escapes_and_redacts():
    clock = Clock()
    rec = StepRecorder(clock=clock, wall=lambda: 0)
    rec.end(rec.begin("<script>alert(1)</script> pw=hunter2", "setup"))
    text = render_timeline([], rec.steps(), redact=lambda s: s.replace("hunter2", "***"))
    assert "<script>" not in text and "hunter2" not in text


def test_timeline_with_no_data():
    assert "0 samples" in render_timeline([], [])


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


def test_summary_has_a_row_per_step_check_and_measurement():
    rec, measurements, record = scenario()
    report = build_report(steps=rec.steps(), measurements=measurements,
                          story=story_rows(story.STORY, record, rec.steps()))
    lines = summary_lines(report)
    assert lines[0].split()[:4] == ["step", "what", "outcome", "seconds"]
    d1 = lines.index(next(ln for ln in lines if ln.startswith("upgrade D1")))
    assert "operations" in lines[d1] and "passed" in lines[d1] and lines[d1].rstrip().endswith("6")
    block = lines[d1 + 1:d1 + 5]
    assert [ln.split()[0] for ln in block] == ["smoke", "scale", "A0", "A0"]
    routable = block[2]
    assert "failed" in routable and "0.20s" in routable and "enforced" in routable and routable.endswith("6")
    assert any(ln.startswith("upgrade CF") and "failed" in ln for ln in lines)
    assert any(ln.startswith("upgrade D4") and "not run" in ln for ln in lines)
    assert lines[-2].startswith("A0 routable: 20 samples, 3 failed, 2 outage window(s), longest 0.20s, every 0.1s")


def test_summary_without_the_story_lists_the_recorded_steps():
    rec, _, _ = scenario()
    lines = summary_lines(build_report(steps=rec.steps()))
    assert lines[0].split() == ["step", "kind", "outcome", "seconds"]
    assert any(ln.startswith("upgrade CF") and "failed" in ln for ln in lines)
    assert summary_lines(build_report(steps=[])) == []
