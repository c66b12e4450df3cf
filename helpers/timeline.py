"""timeline.html: the run on one page, for a browser (self-contained: no script, no fetch).

Rows: the recorded steps as bands (stacked in lanes so that nested steps stay visible), then
one availability row per measurement (the share of successful samples in each slice of time,
with its outage windows shaded), then a time axis. What issue 12 asked of it:

* it fits the window: every position is a percentage of the plot's width and the labels are
  HTML beside it (no fixed ~1200 px image, and text never scales with the window);
* the time axis has even, round ticks (1, 2, 5, 10, 15, 30 s, 1, 2, 5 ... min) and no label
  is cut at either edge;
* every colour means what the legend says: the legend's swatches are drawn with the very
  attributes of what they explain (`SWATCHES`);
* a short step is still readable: every step is numbered (`#` in the table under the plot),
  and a band shows its number and name when the name fits the narrowest plot the page is laid
  out for (`MIN_PLOT_PX`), else its number alone; never a name cut to `dep…`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.report import Redact, atomic_write, iso
from helpers.samples import Sample
from helpers.steps import Step

KIND_COLOURS = {"diego": "#4c78a8", "cf": "#f58518", "setup": "#9d9d9d"}
OK_COLOUR, PARTIAL_COLOUR, FAIL_COLOUR, INCONCLUSIVE_COLOUR = "#2ca02c", "#ff7f0e", "#d62728", "#bbbbbb"
OUTAGE = {"fill": FAIL_COLOUR, "fill-opacity": "0.25"}
# what each legend entry is drawn with: the same attributes as in the plot
SWATCHES: dict[str, dict[str, str]] = {
    "every sample succeeded": {"fill": OK_COLOUR},
    "some succeeded": {"fill": PARTIAL_COLOUR},
    "none succeeded": {"fill": FAIL_COLOUR},
    "could not measure": {"fill": INCONCLUSIVE_COLOUR},
    "outage window": OUTAGE,
}
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
MAX_TICKS = 10
MIN_PLOT_PX = 720  # band labels are laid out for a plot at least this wide
CHAR_PX = 6.6  # average width of an 11 px sans-serif character
BINS = 600  # slices of time per measurement row
BAND_H, LANE_GAP, ROW_H = 18, 2, 36


def _attrs(attrs: dict[str, str]) -> str:
    return " ".join(f'{k}="{v}"' for k, v in attrs.items())


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value)):.3f}%"


def nice_step(span: float, max_ticks: int = MAX_TICKS) -> float:
    """The smallest round interval that puts at most `max_ticks` ticks on `span` seconds."""
    for step in NICE_STEPS:
        if span / step <= max_ticks:
            return float(step)
    return float(NICE_STEPS[-1] * (int(span / (NICE_STEPS[-1] * max_ticks)) + 1))


def ticks(t0: float, t1: float, wall0: float | None) -> list[tuple[float, str, str]]:
    """(fraction of the span, label, text-anchor) at round times: wall-clock multiples of one
    interval (relative `+Ns` without a wall clock); anchored inward near the edges."""
    span = max(t1 - t0, 1e-6)
    step = nice_step(span)
    base = wall0 if wall0 is not None else 0.0
    first = (int(base // step) + (0 if base % step == 0 else 1)) * step
    out = []
    at = first
    while at <= base + span + 1e-9:
        frac = (at - base) / span
        label = time.strftime("%H:%M:%S", time.gmtime(at)) if wall0 is not None else f"+{at:g}s"
        anchor = "start" if frac < 0.05 else ("end" if frac > 0.95 else "middle")
        out.append((frac, label, anchor))
        at += step
    return out


def _lanes(steps: Sequence[Step], t1: float) -> list[int]:
    """A lane per step such that steps in one lane never overlap (nested ones go below)."""
    ends: list[float] = []
    lanes = []
    for st in steps:
        end = st.end_mono if st.end_mono is not None else t1
        lane = next((i for i, last in enumerate(ends) if last <= st.start_mono), None)
        if lane is None:
            ends.append(end)
            lane = len(ends) - 1
        else:
            ends[lane] = end
        lanes.append(lane)
    return lanes


def band_label(number: int, name: str, fraction: float) -> str:
    """`3 deploy CF at V0 (cf-warden)` when it fits the band at `MIN_PLOT_PX`, else `3`."""
    full = f"{number} {name}"
    return full if len(full) * CHAR_PX + 6 <= fraction * MIN_PLOT_PX else str(number)


def render_timeline(measurements: Sequence[Any], steps: list[Step], title: str = "The run, step by step",
                    redact: Redact = lambda s: s) -> str:
    """The page (module docstring). `measurements`: helpers.report.MeasurementData."""
    ordered = sorted(steps, key=lambda s: s.start_mono)
    monos = [s.mono for m in measurements for s in m.samples] + [st.start_mono for st in ordered] + \
        [st.end_mono for st in ordered if st.end_mono is not None]
    t0, t1 = (min(monos), max(monos)) if monos else (0.0, 1.0)
    span = max(t1 - t0, 1e-6)

    def frac(t: float) -> float:
        return (t - t0) / span

    first = next((m.samples[0] for m in measurements if m.samples), None)
    wall0 = first.wall - (first.mono - t0) if first is not None else (
        ordered[0].start_wall - (ordered[0].start_mono - t0) if ordered else None)

    numbers = {id(st): i for i, st in enumerate(ordered, 1)}
    lanes = _lanes(ordered, t1)
    bands = []
    for st, lane in zip(ordered, lanes, strict=True):
        end = st.end_mono if st.end_mono is not None else t1
        width = max(frac(end) - frac(st.start_mono), 0.001)
        y = lane * (BAND_H + LANE_GAP)
        name = redact(st.name)
        label = band_label(numbers[id(st)], name, width)
        tip = html.escape(redact(f"{numbers[id(st)]}. {st.name} ({st.kind}, {st.outcome}) {st.duration or 0:.1f}s"
                                 + (f": {st.message}" if st.message else "")))
        fill = {"fill": KIND_COLOURS.get(st.kind, "#999"), "fill-opacity": "0.35" if st.outcome == "skipped" else "0.85"}
        stroke = f' stroke="{FAIL_COLOUR}" stroke-width="2"' if st.outcome == "failed" else ""
        bands.append(f'<g class="band"><title>{tip}</title><rect x="{_pct(100 * frac(st.start_mono))}" y="{y}" '
                     f'width="{_pct(100 * width)}" height="{BAND_H}" {_attrs(fill)}{stroke}/>'
                     f'<text x="{_pct(100 * frac(st.start_mono))}" dx="3" y="{y + 13}" font-size="11" '
                     f'fill="#fff">{html.escape(label)}</text></g>')
    lanes_h = max(len(set(lanes)), 1) * (BAND_H + LANE_GAP)

    rows = []
    for m in measurements:
        parts = []
        bins: dict[int, list[Sample]] = {}
        for s in m.samples:
            bins.setdefault(min(int(frac(s.mono) * BINS), BINS - 1), []).append(s)
        for b, group in sorted(bins.items()):
            conclusive = [s for s in group if s.conclusive]
            x, w = _pct(100 * b / BINS), _pct(100 / BINS + 0.05)
            if not conclusive:
                parts.append(f'<rect x="{x}" y="{ROW_H - 4}" width="{w}" height="4" '
                             f'{_attrs(SWATCHES["could not measure"])}/>')
                continue
            share = sum(s.ok for s in conclusive) / len(conclusive)
            key = "every sample succeeded" if share == 1 else ("none succeeded" if share == 0 else "some succeeded")
            h = max(ROW_H * share, 4)
            parts.append(f'<rect x="{x}" y="{ROW_H - h:.1f}" width="{w}" height="{h:.1f}" {_attrs(SWATCHES[key])}/>')
        for win in m.windows:
            start, end = win.fail_span
            if win.end_mono is not None:
                end = max(end, win.end_mono)
            tip = html.escape(redact(f"{m.title}: {win.describe()}"))
            parts.append(f'<g class="outage"><title>{tip}</title><rect x="{_pct(100 * frac(start))}" y="0" '
                         f'width="{_pct(max(100 * (frac(end) - frac(start)), 0.2))}" height="{ROW_H}" '
                         f'{_attrs(OUTAGE)}/></g>')
        rows.append(f'<div class="lbl">{html.escape(m.title)}</div><svg class="row" height="{ROW_H}" '
                    f'role="img" aria-label="{html.escape(m.title)}"><rect x="0%" y="0" width="100%" '
                    f'height="{ROW_H}" fill="none" stroke="#eee"/>{"".join(parts)}</svg>')

    axis = "".join(f'<line x1="{_pct(100 * f)}" x2="{_pct(100 * f)}" y1="0" y2="5" stroke="#999"/>'
                   f'<text x="{_pct(100 * f)}" y="17" font-size="10" text-anchor="{a}">{lb}</text>'
                   for f, lb, a in ticks(t0, t1, wall0))

    def swatch(attrs: dict[str, str]) -> str:
        return f'<svg class="sw" width="14" height="10"><rect width="14" height="10" {_attrs(attrs)}/></svg>'

    legend = " ".join(f"{swatch({'fill': c, 'fill-opacity': '0.85'})} {k}" for k, c in KIND_COLOURS.items())
    meaning = " ".join(f'<span class="key">{swatch(a)} {html.escape(k)}</span>' for k, a in SWATCHES.items())
    rows_steps = "".join(
        f"<tr><td>{numbers[id(st)]}</td><td>{html.escape(redact(st.name))}</td><td>{st.kind}</td>"
        f"<td>{st.outcome}</td><td>{iso(st.start_wall) or ''}</td><td>{(st.duration or 0):.1f}</td>"
        f"<td>{html.escape(redact(st.message or ''))}</td></tr>" for st in ordered)
    rows_windows = "".join(
        f"<tr><td>{html.escape(m.title)}</td><td>{iso(w.first_fail_wall) or ''}</td><td>{w.duration:.2f}</td>"
        f"<td>{w.duration_max:.2f}</td><td>{w.failed_samples}</td>"
        f"<td>{html.escape(', '.join(f'{k} x{v}' for k, v in sorted(w.errors.items())))}</td>"
        f"<td>{html.escape(redact(', '.join(w.steps)))}</td><td>{', '.join(map(str, w.tasks))}</td></tr>"
        for m in measurements for w in m.windows)
    totals = "; ".join(f"{html.escape(m.title)}: {sum(s.conclusive for s in m.samples)} samples, "
                       f"{sum(s.conclusive and not s.ok for s in m.samples)} failed, {len(m.windows)} outage window(s)"
                       for m in measurements) or "0 samples"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:16px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
.tl{{display:grid;grid-template-columns:9em minmax(0,1fr);gap:6px 10px;align-items:center;margin:12px 0}}
.tl svg{{width:100%;display:block;overflow:visible}}.lbl{{font-size:12px;text-align:right}}
.key{{white-space:nowrap;margin-right:10px}}.sw{{vertical-align:middle}}
</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{totals}.</p>
<p>Step kinds: {legend}. Steps are numbered as in the table below; a band too short for its name shows its
number. Each measurement's row: {meaning}. Hover for details.</p>
<div class="tl">
<div class="lbl">steps</div><svg class="lanes" height="{lanes_h}" role="img" aria-label="steps">{''.join(bands)}</svg>
{''.join(rows)}
<div class="lbl">time (UTC)</div><svg class="axis" height="20" role="img" aria-label="time">{axis}</svg>
</div>
<h2>Steps</h2><table><tr><th>#</th><th>step</th><th>kind</th><th>outcome</th><th>start (UTC)</th><th>seconds</th>
<th>message</th></tr>{rows_steps}</table>
<h2>Outage windows</h2><table><tr><th>measurement</th><th>first failure (UTC)</th><th>duration s</th>
<th>at most s</th><th>failed samples</th><th>errors</th><th>steps</th><th>BOSH tasks</th></tr>{rows_windows}</table>
</body></html>
"""


def write_timeline(directory: Path, measurements: Sequence[Any], steps: list[Step], redact: Redact = lambda s: s
                   ) -> Path:
    return atomic_write(Path(directory) / "timeline.html", render_timeline(measurements, steps, redact=redact))
