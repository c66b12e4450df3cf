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

import html
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

KIND_COLOURS = {"diego": "#4c78a8", "cf": "#f58518", "setup": "#9d9d9d"}
OK_COLOUR, PARTIAL_COLOUR, FAIL_COLOUR, INCONCLUSIVE_COLOUR = "#2ca02c", "#ff7f0e", "#d62728", "#bbbbbb"


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


def _atomic_write(path: Path, text: str) -> Path:
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
    return _atomic_write(path, redact("# " + json.dumps(head) + "\n" + raw + ("" if raw.endswith("\n") else "\n")))


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
    measurements; with the recorded phase's times. Steps that never began say so."""
    by_name = {s.name: s for s in recorded if s.story}
    rows = []
    for st in story_steps:
        data = dict((record.get("steps") or {}).get(st.id) or {})
        phase = by_name.get(st.title)
        outcome = data.get("outcome")
        if phase is not None and phase.outcome in ("failed", "skipped"):
            outcome = phase.outcome
        if outcome == "operated":
            outcome = "running"  # operations done, checks not (yet) judged
        rows.append({
            "id": st.id, "title": st.title, "kind": st.kind,
            "outcome": outcome or ("skipped" if phase is not None else "not run"),
            "message": (phase.message if phase is not None else None) or data.get("message"),
            "start": iso(phase.start_wall) if phase else None, "seconds": phase.duration if phase else None,
            "invocation": data.get("invocation"), "ops": data.get("ops") or [],
            "tasks": [o.get("task") for o in data.get("ops") or [] if o.get("task") is not None],
            "checks": data.get("checks") or {}, "measurements": data.get("measurements") or {},
        })
    return rows


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
    }
    return redact_tree(report, redact)


def write_report(directory: Path, report: Mapping[str, Any]) -> Path:
    return _atomic_write(Path(directory) / "report.json", json.dumps(report, indent=2, sort_keys=False) + "\n")


# --------------------------------------------------------------------------------------
# timeline.html


def render_timeline(measurements: Sequence[MeasurementData], steps: list[Step], title: str = "The run, step by step",
                    width: int = 1200, redact: Redact = _identity) -> str:
    """A self-contained HTML page: step bands, then one availability row per measurement
    (share of successful samples per pixel column) with its outage windows."""
    monos = [s.mono for m in measurements for s in m.samples] + [st.start_mono for st in steps] + \
        [st.end_mono for st in steps if st.end_mono is not None]
    t0, t1 = (min(monos), max(monos)) if monos else (0.0, 1.0)
    span = max(t1 - t0, 1e-6)
    label_w = 130
    left, plot_w = label_w, width - label_w - 10

    def x(t: float) -> float:
        return left + (t - t0) / span * plot_w

    wall0 = None
    first = next((m.samples[0] for m in measurements if m.samples), None)
    if first is not None:
        wall0 = first.wall - (first.mono - t0)
    elif steps:
        wall0 = steps[0].start_wall - (steps[0].start_mono - t0)

    parts: list[str] = []
    lanes: list[float] = []  # step bands, stacked so that nested steps stay visible
    band_h, lane_gap = 18, 2
    for st in sorted(steps, key=lambda s: s.start_mono):
        end = st.end_mono if st.end_mono is not None else t1
        lane = next((i for i, last_end in enumerate(lanes) if last_end <= st.start_mono), None)
        if lane is None:
            lanes.append(end)
            lane = len(lanes) - 1
        else:
            lanes[lane] = end
        y = 10 + lane * (band_h + lane_gap)
        colour = KIND_COLOURS.get(st.kind, "#999")
        opacity = "0.35" if st.outcome == "skipped" else "0.85"
        stroke = f' stroke="{FAIL_COLOUR}" stroke-width="2"' if st.outcome == "failed" else ""
        w = max(x(end) - x(st.start_mono), 1.0)
        fits = int((w - 4) / 6.5)  # ~6.5 px per character at 11 px: never spill into the next band
        name = redact(st.name)
        label = html.escape(name if len(name) <= fits else (name[: fits - 1] + "…" if fits > 3 else ""))
        tip = html.escape(redact(f"{st.name} ({st.kind}, {st.outcome}) {st.duration or 0:.1f}s"
                                 + (f": {st.message}" if st.message else "")))
        parts.append(f'<g><title>{tip}</title><rect x="{x(st.start_mono):.1f}" y="{y}" width="{w:.1f}" '
                     f'height="{band_h}" fill="{colour}" fill-opacity="{opacity}"{stroke}/>'
                     f'<text x="{x(st.start_mono) + 3:.1f}" y="{y + 13}" font-size="11" fill="#fff">{label}</text></g>')
    parts.append('<text x="4" y="23" font-size="11">steps</text>')
    row_y = 10 + max(len(lanes), 1) * (band_h + lane_gap) + 10
    row_h, row_gap = 36, 8
    for m in measurements:
        parts.append(f'<text x="4" y="{row_y + row_h / 2 + 4:.0f}" font-size="11">{html.escape(m.title)}</text>')
        parts.append(f'<rect x="{left}" y="{row_y}" width="{plot_w}" height="{row_h}" fill="none" stroke="#eee"/>')
        columns: dict[int, list[Sample]] = {}
        for s in m.samples:
            columns.setdefault(int(x(s.mono)), []).append(s)
        for col, group in sorted(columns.items()):
            conclusive = [s for s in group if s.conclusive]
            if not conclusive:
                parts.append(f'<rect x="{col}" y="{row_y + row_h - 4}" width="1" height="4" '
                             f'fill="{INCONCLUSIVE_COLOUR}"/>')
                continue
            share = sum(s.ok for s in conclusive) / len(conclusive)
            colour = OK_COLOUR if share == 1 else (FAIL_COLOUR if share == 0 else PARTIAL_COLOUR)
            h = max(row_h * share, 4)
            parts.append(f'<rect x="{col}" y="{row_y + row_h - h:.1f}" width="1" height="{h:.1f}" fill="{colour}"/>')
        for w in m.windows:
            start, end = w.fail_span
            if w.end_mono is not None:
                end = max(end, w.end_mono)
            tip = html.escape(redact(f"{m.title}: {w.describe()}"))
            parts.append(f'<g><title>{tip}</title><rect x="{x(start):.1f}" y="{row_y}" '
                         f'width="{max(x(end) - x(start), 2):.1f}" height="{row_h}" fill="{FAIL_COLOUR}" '
                         f'fill-opacity="0.25"/></g>')
        row_y += row_h + row_gap
    axis_y = row_y + 10
    ticks = 8
    for i in range(ticks + 1):
        t = t0 + span * i / ticks
        label = f"+{t - t0:.0f}s" if wall0 is None else time.strftime("%H:%M:%S", time.gmtime(wall0 + (t - t0)))
        anchor = "start" if i == 0 else ("end" if i == ticks else "middle")
        parts.append(f'<text x="{x(t):.1f}" y="{axis_y}" font-size="10" text-anchor="{anchor}">{label}</text>')
    height = axis_y + 10

    rows_steps = "".join(
        f"<tr><td>{html.escape(redact(st.name))}</td><td>{st.kind}</td><td>{st.outcome}</td>"
        f"<td>{iso(st.start_wall) or ''}</td><td>{(st.duration or 0):.1f}</td>"
        f"<td>{html.escape(redact(st.message or ''))}</td></tr>" for st in steps)
    rows_windows = "".join(
        f"<tr><td>{html.escape(m.title)}</td><td>{iso(w.first_fail_wall)}</td><td>{w.duration:.2f}</td>"
        f"<td>{w.duration_max:.2f}</td><td>{w.failed_samples}</td>"
        f"<td>{html.escape(', '.join(f'{k} x{v}' for k, v in sorted(w.errors.items())))}</td>"
        f"<td>{html.escape(redact(', '.join(w.steps)))}</td><td>{', '.join(map(str, w.tasks))}</td></tr>"
        for m in measurements for w in m.windows)
    totals = "; ".join(f"{html.escape(m.title)}: {sum(s.conclusive for s in m.samples)} samples, "
                       f"{sum(s.conclusive and not s.ok for s in m.samples)} failed, {len(m.windows)} outage window(s)"
                       for m in measurements) or "0 samples"
    legend = " ".join(f'<span style="background:{c};color:#fff;padding:1px 6px">{k}</span>'
                      for k, c in KIND_COLOURS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:16px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}svg{{border:1px solid #eee;max-width:100%;height:auto}}
</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{totals}.</p>
<p>Step kinds: {legend}. Each measurement's row: green, every sample in the column succeeded;
<span style="color:{FAIL_COLOUR}">red</span>, none did; orange, some did; grey, could not measure;
shaded: an outage window. Hover for details.</p>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"
 role="img" aria-label="timeline of steps and measurements">{''.join(parts)}</svg>
<h2>Steps</h2><table><tr><th>step</th><th>kind</th><th>outcome</th><th>start (UTC)</th><th>seconds</th>
<th>message</th></tr>{rows_steps}</table>
<h2>Outage windows</h2><table><tr><th>measurement</th><th>first failure (UTC)</th><th>duration s</th>
<th>at most s</th><th>failed samples</th><th>errors</th><th>steps</th><th>BOSH tasks</th></tr>{rows_windows}</table>
</body></html>
"""


def write_timeline(directory: Path, measurements: Sequence[MeasurementData], steps: list[Step],
                   redact: Redact = _identity) -> Path:
    return _atomic_write(Path(directory) / "timeline.html", render_timeline(measurements, steps, redact=redact))


# --------------------------------------------------------------------------------------
# terminal summary


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """The story as a table, one row per step, after-step check and measurement; or, for a
    run without the story (smoke, chains), one row per recorded step."""
    story = report.get("story") or []
    if not story:
        rows = [("step", "kind", "outcome", "seconds")]
        rows += [(str(st.get("name")), str(st.get("kind")), str(st.get("outcome")), f"{st.get('duration') or 0:.1f}")
                 for st in report.get("steps", [])]
        return _table(rows) if len(rows) > 1 else []
    titles = {name: m.get("title", name) for name, m in (report.get("measurements") or {}).items()}
    rows = [("step", "what", "outcome", "seconds", "samples", "failed", "longest", "policy", "BOSH tasks")]
    for st in story:
        tasks = ", ".join(str(t) for t in st.get("tasks") or [])
        rows.append((st["title"], "operations", str(st.get("outcome")), _secs(st.get("seconds")), "", "", "", "",
                     tasks))
        for name, c in (st.get("checks") or {}).items():
            rows.append(("", name, "passed" if c.get("ok") else "failed", _secs(c.get("seconds")), "", "", "", "", ""))
        for name, m in (st.get("measurements") or {}).items():
            policy = "enforced" if (m.get("policy") or {}).get("enforce") else "recorded"
            longest = m.get("longest_outage")
            rows.append(("", titles.get(name, m.get("title", name)), str(m.get("outcome")), "",
                         str(m.get("attempted", "")), str(m.get("failed", "")),
                         f"{longest:.2f}s" if longest else "-", policy,
                         ", ".join(str(t) for t in m.get("tasks") or [])))
    lines = _table(rows)
    for name, m in (report.get("measurements") or {}).items():
        lines.append(f"{m.get('title', name)}: {m.get('attempted', 0)} samples, {m.get('failed', 0)} failed, "
                     f"{m.get('windows', 0)} outage window(s), longest {m.get('longest_outage', 0):.2f}s, "
                     f"every {m.get('interval') or 0:g}s")
    return lines


def _secs(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""
