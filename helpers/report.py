"""The run's artifacts: report.json, timeline.html, BOSH task logs, the terminal summary.

Why: a multi-hour upgrade run must be readable afterwards without re-running it. The
report keeps the structured record (steps with times and outcomes, test results, outage
windows with their steps, the versions deployed, every BOSH task); the timeline shows
availability over time with the steps as bands, in one self-contained HTML file (no
scripts or network fetches) that any browser opens; samples.jsonl is written live by the
poller's writer. Credentials never reach these files: every string passes the redactor.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers.poller import OutageWindow, Sample
from helpers.steps import Step

Redact = Callable[[str], str]

KIND_COLOURS = {"diego": "#4c78a8", "cf": "#f58518", "setup": "#9d9d9d"}


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
# report.json


def build_report(*, steps: Iterable[Step], results: Iterable[Mapping[str, Any]] = (),
                 windows: Iterable[OutageWindow] = (), poller_summary: Mapping[str, Any] | None = None,
                 step_summaries: Mapping[str, Mapping[str, Any]] | None = None,
                 violations: Mapping[str, Iterable[OutageWindow]] | None = None,
                 versions: Mapping[str, Any] | None = None, tasks: Iterable[Any] = (),
                 timings: Mapping[str, float] | None = None, meta: Mapping[str, Any] | None = None,
                 redact: Redact = _identity) -> dict[str, Any]:
    """Everything the run learned, as plain JSON-able data."""
    steps = list(steps)
    results = [dict(r) for r in results]
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[str(r.get("outcome"))] = outcomes.get(str(r.get("outcome")), 0) + 1
    report = {
        "format": 1,
        "generated": iso(time.time()),
        "meta": dict(meta or {}),
        "outcome": "failed" if outcomes.get("failed") or outcomes.get("error") else "passed",
        "totals": outcomes,
        "steps": [{**s.to_json(), "start": iso(s.start_wall), "end": iso(s.end_wall),
                   "routability": dict((step_summaries or {}).get(s.name, {})),
                   "violations": [w.to_json() for w in (violations or {}).get(s.name, [])]}
                  for s in steps],
        "results": results,
        "outage_windows": [{**w.to_json(), "start": iso(w.start_wall), "first_fail": iso(w.first_fail_wall),
                            "end": iso(w.end_wall)} for w in windows],
        "poller": dict(poller_summary or {}),
        "versions": dict(versions or {}),
        "tasks": [task_summary(t) for t in tasks],
        "timings": dict(timings or {}),
    }
    return redact_tree(report, redact)


def write_report(directory: Path, report: Mapping[str, Any]) -> Path:
    return _atomic_write(Path(directory) / "report.json", json.dumps(report, indent=2, sort_keys=False) + "\n")


# --------------------------------------------------------------------------------------
# timeline.html


def render_timeline(samples: list[Sample], steps: list[Step], windows: list[OutageWindow],
                    title: str = "A0 availability", width: int = 1200, redact: Redact = _identity) -> str:
    """A self-contained HTML page: step bands, availability per pixel column, outage windows."""
    monos = [s.mono for s in samples] + [st.start_mono for st in steps] + \
        [st.end_mono for st in steps if st.end_mono is not None]
    if not monos:
        t0, t1 = 0.0, 1.0
    else:
        t0, t1 = min(monos), max(monos)
    span = max(t1 - t0, 1e-6)
    left, plot_w = 10, width - 20

    def x(t: float) -> float:
        return left + (t - t0) / span * plot_w

    wall0 = None
    if samples:
        wall0 = samples[0].wall - (samples[0].mono - t0)
    elif steps:
        wall0 = steps[0].start_wall - (steps[0].start_mono - t0)

    parts: list[str] = []
    # step bands, stacked in lanes so overlapping (nested) steps stay visible
    lanes: list[float] = []
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
        stroke = ' stroke="#d62728" stroke-width="2"' if st.outcome == "failed" else ""
        w = max(x(end) - x(st.start_mono), 1.0)
        fits = int((w - 4) / 6.5)  # ~6.5 px per character at 11 px: never spill into the next band
        name = redact(st.name)
        label = html.escape(name if len(name) <= fits else (name[: fits - 1] + "…" if fits > 3 else ""))
        tip = html.escape(redact(f"{st.name} ({st.kind}, {st.outcome}) {st.duration or 0:.1f}s"
                                 + (f": {st.message}" if st.message else "")))
        parts.append(f'<g><title>{tip}</title><rect x="{x(st.start_mono):.1f}" y="{y}" width="{w:.1f}" '
                     f'height="{band_h}" fill="{colour}" fill-opacity="{opacity}"{stroke}/>'
                     f'<text x="{x(st.start_mono) + 3:.1f}" y="{y + 13}" font-size="11" fill="#fff">{label}</text></g>')
    avail_y = 10 + max(len(lanes), 1) * (band_h + lane_gap) + 10
    avail_h = 60
    # availability: bin samples into pixel columns, height = share of ok samples
    columns: dict[int, list[bool]] = {}
    for s in samples:
        columns.setdefault(int(x(s.mono)), []).append(s.ok)
    for col, oks in sorted(columns.items()):
        ok_share = sum(oks) / len(oks)
        colour = "#2ca02c" if ok_share == 1 else ("#d62728" if ok_share == 0 else "#ff7f0e")
        h = max(avail_h * ok_share, 2 if ok_share < 1 else 0)
        parts.append(f'<rect x="{col}" y="{avail_y + avail_h - h:.1f}" width="1" height="{h:.1f}" fill="{colour}"/>')
    for w in windows:
        end = w.end_mono if w.end_mono is not None else w.last_fail_mono
        tip = html.escape(redact(w.describe()))
        parts.append(f'<g><title>{tip}</title><rect x="{x(w.first_fail_mono):.1f}" y="{avail_y}" '
                     f'width="{max(x(end) - x(w.first_fail_mono), 2):.1f}" height="{avail_h}" fill="#d62728" '
                     f'fill-opacity="0.35"/></g>')
    axis_y = avail_y + avail_h + 14
    ticks = 10
    for i in range(ticks + 1):
        t = t0 + span * i / ticks
        label = f"+{t - t0:.0f}s" if wall0 is None else time.strftime("%H:%M:%S", time.gmtime(wall0 + (t - t0)))
        parts.append(f'<text x="{x(t):.1f}" y="{axis_y}" font-size="10" text-anchor="middle">{label}</text>')
    height = axis_y + 10

    failed = sum(1 for s in samples if not s.ok)
    rows_steps = "".join(
        f"<tr><td>{html.escape(redact(st.name))}</td><td>{st.kind}</td><td>{st.outcome}</td>"
        f"<td>{iso(st.start_wall) or ''}</td><td>{(st.duration or 0):.1f}</td>"
        f"<td>{html.escape(redact(st.message or ''))}</td></tr>" for st in steps)
    rows_windows = "".join(
        f"<tr><td>{iso(w.first_fail_wall)}</td><td>{w.duration:.2f}</td><td>{w.duration_max:.2f}</td>"
        f"<td>{w.failed_samples}</td><td>{html.escape(', '.join(f'{k} x{v}' for k, v in sorted(w.errors.items())))}</td>"
        f"<td>{html.escape(redact(', '.join(w.steps)))}</td></tr>" for w in windows)
    legend = " ".join(f'<span style="background:{c};color:#fff;padding:1px 6px">{k}</span>'
                      for k, c in KIND_COLOURS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:16px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}svg{{border:1px solid #eee}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{len(samples)} samples, {failed} failed, {len(windows)} outage window(s). Step kinds: {legend}.
Green: every sample in the column answered; red: none did; orange: some did.
Hover for details.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"
 aria-label="availability timeline">{''.join(parts)}</svg>
<h2>Steps</h2><table><tr><th>step</th><th>kind</th><th>outcome</th><th>start (UTC)</th><th>seconds</th>
<th>message</th></tr>{rows_steps}</table>
<h2>Outage windows</h2><table><tr><th>first failure (UTC)</th><th>duration s</th><th>at most s</th>
<th>failed samples</th><th>errors</th><th>steps</th></tr>{rows_windows}</table>
</body></html>
"""


def write_timeline(directory: Path, samples: list[Sample], steps: list[Step], windows: list[OutageWindow],
                   redact: Redact = _identity) -> Path:
    return _atomic_write(Path(directory) / "timeline.html", render_timeline(samples, steps, windows, redact=redact))


# --------------------------------------------------------------------------------------
# terminal summary


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """A fixed-width table: one row per step with outcome, duration and routability."""
    rows = [("step", "kind", "outcome", "seconds", "samples", "failed", "longest outage", "policy")]
    for st in report.get("steps", []):
        r = st.get("routability") or {}
        pol = st.get("policy") or {}
        policy = "enforced" if pol.get("enforce") else "recorded"
        if st.get("violations"):
            policy += f" ({len(st['violations'])} violation(s))"
        rows.append((str(st.get("name")), str(st.get("kind")), str(st.get("outcome")),
                     f"{st.get('duration') or 0:.1f}", str(r.get("attempted", "-")), str(r.get("failed", "-")),
                     f"{r['longest_outage']:.2f}s" if r.get("longest_outage") is not None else "-", policy))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p = report.get("poller") or {}
    if p:
        lines.append(f"A0 poller: {p.get('attempted', 0)} samples, {p.get('failed', 0)} failed, "
                     f"{p.get('windows', 0)} outage window(s), longest {p.get('longest_outage', 0):.2f}s, "
                     f"interval {p.get('interval', 0)}s")
    return lines
