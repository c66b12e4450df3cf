"""The run's artifacts: report.json, timeline.html, BOSH task logs, the terminal summary.

Why: a multi-hour upgrade run must be readable afterwards without re-running it. The
report keeps the structured record: the story's steps with their operations (BOSH tasks),
after-step checks and every measurement's judgement; the recorded phases with times and
outcomes; every test result; every outage window of every measurement with the steps and
tasks it overlaps; the versions deployed. The timeline shows the phases as bands and one
availability row per measurement, in one self-contained HTML file (no scripts or network
fetches) that any browser opens; samples.jsonl is written live by the probers' writer.
Credentials never reach these files: every string passes the redactor.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.samples import OutageWindow, Sample
from helpers.steps import Step

Redact = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def redact_tree(obj: Any, redact: Redact) -> Any:
    """Every string of a JSON-able tree through `redact` (keys kept)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {str(k): redact_tree(v, redact) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_tree(v, redact) for v in obj]
    return obj


def atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int((wall % 1) * 1000):03d}Z"


# --------------------------------------------------------------------------------------
# BOSH task logs


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def write_task_log(directory: Path, task: Any, redact: Redact = _identity) -> Path:
    """`tasks/task-<id>-<deployment>.log`: the raw event log of one BOSH task, plus a JSON
    header line with its state and description."""
    tid = getattr(task, "id", "x")
    dep = _SAFE.sub("_", str(getattr(task, "deployment", None) or "none"))
    path = Path(directory) / "tasks" / f"task-{tid}-{dep}.log"
    head = {"id": tid, "deployment": getattr(task, "deployment", None), "state": getattr(task, "state", None),
            "description": getattr(task, "description", None), "result": getattr(task, "result", None),
            "duration": getattr(task, "duration", None)}
    raw = getattr(task, "events_raw", "") or "\n".join(json.dumps(e) for e in getattr(task, "events", []))
    return atomic_write(path, redact("# " + json.dumps(head) + "\n" + raw + ("" if raw.endswith("\n") else "\n")))


def task_summary(task: Any) -> dict[str, Any]:
    return {"id": getattr(task, "id", None), "deployment": getattr(task, "deployment", None),
            "state": getattr(task, "state", None), "description": getattr(task, "description", None),
            "duration": getattr(task, "duration", None)}


# --------------------------------------------------------------------------------------
# What the report is built from


@dataclass
class MeasurementData:
    """One measurement for the report and the timeline: its samples, windows, summary."""

    name: str
    title: str
    samples: list[Sample]
    windows: list[OutageWindow]
    summary: dict[str, Any] = field(default_factory=dict)


def story_rows(story_steps: Sequence[Any], record: Mapping[str, Any], recorded: Sequence[Step]) -> list[dict[str, Any]]:
    """The story's steps as the run record has them: outcome, operations and tasks, checks,
    measurements, and the invocation that ran them (a resumed run); with the recorded phase's
    times. Steps that never began say so.

    `outcome` is the step's verdict: `failed` when an operation or an after-step check failed
    *or a measurement broke its enforced policy* (such a step is never listed as passed);
    `chain` is what decided whether the story went on (operations and checks only: a
    measurement only reports)."""
    by_name = {s.name: s for s in recorded if s.story}
    rows = []
    for st in story_steps:
        data = dict((record.get("steps") or {}).get(st.id) or {})
        phase = by_name.get(st.title)
        chain = data.get("outcome")
        if phase is not None and phase.outcome in ("failed", "skipped"):
            chain = phase.outcome
        if chain == "operated":
            chain = "running"  # operations done, checks not (yet) judged
        chain = chain or ("skipped" if phase is not None else "not run")
        measurements = data.get("measurements") or {}
        broken = sorted(n for n, m in measurements.items() if (m or {}).get("outcome") == "failed")
        outcome = "failed" if chain == "passed" and broken else chain
        message = (phase.message if phase is not None else None) or data.get("message")
        if broken and not message:
            message = "measurement(s) broke the step's policy: " + ", ".join(
                str(measurements[n].get("title") or n) for n in broken)
        rows.append({
            "id": st.id, "title": st.title, "kind": st.kind, "outcome": outcome, "chain": chain,
            "message": message,
            "start": iso(phase.start_wall) if phase else None, "seconds": phase.duration if phase else None,
            "invocation": data.get("invocation"), "ops": data.get("ops") or [], "failed_op": data.get("failed_op"),
            "tasks": [o.get("task") for o in data.get("ops") or [] if o.get("task") is not None],
            "checks": data.get("checks") or {}, "measurements": measurements,
        })
    return rows


def invocations(record: Mapping[str, Any], measurements: Iterable[str] = ()) -> dict[str, Any]:
    """How a resumed run was played: each invocation (when, how it ended, which story steps
    it ran) and the gaps between them, during which no measurement observed anything."""
    runs = list(record.get("invocations") or [])
    steps = record.get("steps") or {}
    out = [{"invocation": i + 1, "started": iso(r.get("started")), "ended": iso(r.get("ended")),
            "outcome": r.get("outcome"),
            "steps": [sid for sid, d in steps.items() if (d or {}).get("invocation") == i]}
           for i, r in enumerate(runs)]
    gaps = []
    for i in range(1, len(runs)):
        before, after = runs[i - 1].get("ended") or runs[i - 1].get("started"), runs[i].get("started")
        gaps.append({"after_invocation": i, "before_invocation": i + 1, "from": iso(before), "to": iso(after),
                     "seconds": round(after - before, 3) if before and after else None,
                     "measurements": list(measurements),
                     "note": "nothing was observed between these invocations: A0's routability and every other "
                             "measurement have no samples for this time"})
    return {"invocations": out, "unobserved": gaps}


# --------------------------------------------------------------------------------------
# report.json


def build_report(*, steps: Iterable[Step], results: Iterable[Mapping[str, Any]] = (),
                 measurements: Iterable[MeasurementData] = (), story: Sequence[Mapping[str, Any]] = (),
                 versions: Mapping[str, Any] | None = None, tasks: Iterable[Any] = (),
                 timings: Mapping[str, float] | None = None, meta: Mapping[str, Any] | None = None,
                 run_state: Mapping[str, Any] | None = None, redact: Redact = _identity) -> dict[str, Any]:
    """Everything the run learned, as plain JSON-able data."""
    steps = list(steps)
    results = [dict(r) for r in results]
    measurements = list(measurements)
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[str(r.get("outcome"))] = outcomes.get(str(r.get("outcome")), 0) + 1
    report = {
        "format": 2,
        "generated": iso(time.time()),
        "meta": dict(meta or {}),
        "outcome": "failed" if outcomes.get("failed") or outcomes.get("error") else "passed",
        "totals": outcomes,
        "story": [dict(s) for s in story],
        "measurements": {m.name: {"title": m.title, **m.summary} for m in measurements},
        "steps": [{**s.to_json(), "start": iso(s.start_wall), "end": iso(s.end_wall)} for s in steps],
        "results": results,
        "outage_windows": [{**w.to_json(), "start": iso(w.start_wall), "first_fail": iso(w.first_fail_wall),
                            "end": iso(w.end_wall)} for m in measurements for w in m.windows],
        "versions": dict(versions or {}),
        "tasks": [task_summary(t) for t in tasks],
        "timings": dict(timings or {}),
        "run_state": dict(run_state or {}),
        **invocations(run_state or {}, [m.name for m in measurements]),
    }
    return redact_tree(report, redact)


def write_report(directory: Path, report: Mapping[str, Any]) -> Path:
    return atomic_write(Path(directory) / "report.json", json.dumps(report, indent=2, sort_keys=False) + "\n")


# --------------------------------------------------------------------------------------
# terminal summary


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """The story as a table: per step, its verdict (`step`; the operations' own outcome on a
    row of its own when it differs), then one row per after-step check and measurement; a resumed run adds the invocation of each step
    and the time no measurement observed. A run without the story (smoke, chains): one row
    per recorded step."""
    story = report.get("story") or []
    if not story:
        rows = [("step", "kind", "outcome", "seconds")]
        rows += [(str(st.get("name")), str(st.get("kind")), str(st.get("outcome")), f"{st.get('duration') or 0:.1f}")
                 for st in report.get("steps", [])]
        return _table(rows) if len(rows) > 1 else []
    resumed = len(report.get("invocations") or []) > 1
    titles = {name: m.get("title", name) for name, m in (report.get("measurements") or {}).items()}
    head = ("step", "what", "outcome", "seconds", "samples", "failed", "longest", "policy", "BOSH tasks")
    rows = [(*head, "run") if resumed else head]

    def row(*cells: str, inv: str = "") -> None:
        rows.append((*cells, inv) if resumed else cells)

    for st in story:
        tasks = ", ".join(str(t) for t in st.get("tasks") or [])
        inv = f"#{st['invocation'] + 1}" if isinstance(st.get("invocation"), int) else ""
        row(st["title"], "step", str(st.get("outcome")), _secs(st.get("seconds")), "", "", "", "", tasks, inv=inv)
        ops = _ops_outcome(st)
        if (st.get("ops") or st.get("chain") not in ("not run", "skipped")) and ops != st.get("outcome"):
            row("", "operations", ops, _secs(st.get("seconds")), "", "", "", "", tasks)  # the step failed otherwise
        for name, c in (st.get("checks") or {}).items():
            row("", name, "passed" if c.get("ok") else "failed", _secs(c.get("seconds")), "", "", "", "", "")
        for name, m in (st.get("measurements") or {}).items():
            policy = "enforced" if (m.get("policy") or {}).get("enforce") else "recorded"
            longest = m.get("longest_outage")
            row("", titles.get(name, m.get("title", name)), str(m.get("outcome")), "",
                str(m.get("attempted", "")), str(m.get("failed", "")), f"{longest:.2f}s" if longest else "-", policy,
                ", ".join(str(t) for t in m.get("tasks") or []))
    lines = _table(rows)
    for name, m in (report.get("measurements") or {}).items():
        lines.append(f"{m.get('title', name)}: {m.get('attempted', 0)} samples, {m.get('failed', 0)} failed, "
                     f"{m.get('windows', 0)} outage window(s), longest {m.get('longest_outage', 0):.2f}s, "
                     f"every {m.get('interval') or 0:g}s")
    for gap in report.get("unobserved") or []:
        lines.append(f"not observed between invocations #{gap['after_invocation']} and #{gap['before_invocation']} "
                     f"({gap.get('from')} to {gap.get('to')}): A0's routability and every other measurement")
    return lines


def _ops_outcome(st: Mapping[str, Any]) -> str:
    """The operations' own outcome (the step's verdict also weighs checks and measurements)."""
    if st.get("failed_op") or any(o.get("state") not in (None, "done") for o in st.get("ops") or []):
        return "failed"
    if st.get("chain") == "failed" and not st.get("checks"):
        return "failed"  # stopped before or between operations (refused, or the CF API never came back)
    return "passed" if st.get("ops") else str(st.get("chain"))


def _secs(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""
