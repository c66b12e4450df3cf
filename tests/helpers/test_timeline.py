"""timeline.html, structurally (issue 12): it fits the window, its ticks are even and never
cut, its colours are the legend's, and a short step is readable."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser

import pytest
from test_report import scenario

from helpers.report import MeasurementData
from helpers.samples import Sample, outage_windows
from helpers.steps import StepRecorder
from helpers.timeline import SWATCHES, band_label, nice_step, render_timeline, ticks


class Page(HTMLParser):
    """Every element with its attributes, its class ancestry and the text directly in it."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self.stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": [e["attrs"].get("class") for e in self.stack]}
        self.elements.append(el)
        if tag not in ("rect", "line", "meta", "br"):
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": "",
                              "parents": [e["attrs"].get("class") for e in self.stack]})

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1]["tag"] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["text"] += data

    def find(self, tag, inside=None):
        return [e for e in self.elements if e["tag"] == tag and (inside is None or inside in e["parents"])]


def _parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def _long_run():
    """Ten minutes, one step of one second among long ones, A0 sampled every second with an outage."""
    t = {"now": 0.0}
    rec = StepRecorder(clock=lambda: t["now"], wall=lambda: 1_700_000_003.0 + t["now"])
    for name, kind, start, end in (("deploy V0", "setup", 0, 200), ("upgrade D3", "diego", 200, 600),
                                   ("deploy D3 at V-prime (cf-warden-diego-cell1)", "diego", 201, 202),
                                   ("stop D4 (cf-warden-diego-cell2)", "diego", 202, 590)):
        t["now"] = start
        step = rec.begin(name, kind, {"story": "d3"} if name == "upgrade D3" else {})
        t["now"] = end
        rec.end(step)
    samples = [Sample(seq=i, wall=1_700_000_003.0 + i, mono=float(i), status=200 if not 300 <= i < 310 else 502,
                      error=None if not 300 <= i < 310 else "endpoint_failure", measurement="a0_routable")
               for i in range(600)]
    m = MeasurementData("a0_routable", "A0 routable", samples, outage_windows(samples, 1.0, rec), {})
    return render_timeline([m], rec.steps()), rec


def test_it_fits_the_window_no_fixed_width():
    text, _ = _long_run()
    page = _parse(text)
    plots = [e for e in page.find("svg") if e["attrs"].get("class") != "sw"]
    assert {e["attrs"]["class"] for e in plots} == {"lanes", "row", "axis"}
    for svg in plots:
        assert "viewBox" not in svg["attrs"] and "width" not in svg["attrs"], svg  # sized by CSS: width 100%
    assert ".tl svg{width:100%" in text
    for rect in page.find("rect", inside="row") + page.find("rect", inside="lanes"):
        assert rect["attrs"]["x"].endswith("%") and rect["attrs"]["width"].endswith("%"), rect


def test_ticks_are_even_round_and_never_cut():
    text, _ = _long_run()
    labels = [e for e in _parse(text).find("text", inside="axis")]
    xs = [float(e["attrs"]["x"].rstrip("%")) for e in labels]
    assert len(labels) >= 5
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(xs)}
    assert max(gaps) - min(gaps) < 0.01, gaps  # evenly spaced
    seconds = [int(lb["text"][-2:]) + 60 * int(lb["text"][-5:-3]) for lb in labels]
    step = nice_step(600)
    assert step == 60 and all(s % step == 0 for s in seconds)  # round times: whole minutes here
    for label, x in zip(labels, xs, strict=True):
        assert 0 <= x <= 100
        anchor = label["attrs"]["text-anchor"]
        assert (x > 5 or anchor == "start") and (x < 95 or anchor == "end"), (x, anchor)  # never cut


@pytest.mark.parametrize("span,expected", [(3, 1), (25, 5), (95, 10), (600, 60), (4000, 600), (7200, 900)])
def test_nice_steps(span, expected):
    assert nice_step(span) == expected
    assert len(ticks(0.0, span, 1_700_000_000.0)) <= 11


def test_every_colour_is_the_legends():
    text, _ = _long_run()
    page = _parse(text)
    legend = {tuple(sorted(e["attrs"].items())) for e in page.find("rect", inside="sw")}
    drawn = [e for e in page.find("rect", inside="row") if e["attrs"].get("fill") != "none"]
    assert drawn
    for rect in drawn:
        colours = {k: v for k, v in rect["attrs"].items() if k in ("fill", "fill-opacity")}
        assert tuple(sorted({"width": "14", "height": "10", **colours}.items())) in legend, rect
    outage = [e for e in page.find("rect", inside="outage")]
    assert outage and {k: outage[0]["attrs"][k] for k in ("fill", "fill-opacity")} == SWATCHES["outage window"]


def test_a_short_step_shows_its_number_and_the_table_names_it():
    text, _ = _long_run()
    page = _parse(text)
    assert "…" not in text
    labels = [e["text"] for e in page.find("text", inside="band")]
    assert "1 deploy V0" in labels and "2 upgrade D3" in labels
    assert "3" in labels  # a 1 s step of a 10 min run: its number
    cells: list[list[str]] = []
    for e in page.elements:
        if e["tag"] == "tr":
            cells.append([])
        elif e["tag"] == "td" and cells:
            cells[-1].append(e["text"])
    assert cells[3][:2] == ["3", "deploy D3 at V-prime (cf-warden-diego-cell1)"]
    assert band_label(7, "stop D4", 0.5) == "7 stop D4" and band_label(7, "stop D4", 0.01) == "7"


def test_the_scenario_still_draws_a_row_per_measurement_and_escapes(tmp_path):
    rec, measurements, _ = scenario()
    text = render_timeline(measurements, rec.steps(), redact=lambda s: s.replace("boom", "***"))
    page = _parse(text)
    assert [e["text"] for e in page.find("div") if e["attrs"].get("class") == "lbl"] == [
        "steps", "A0 routable", "A0 ssh", "time (UTC)"]
    assert "script" not in {e["tag"] for e in page.elements}
    assert not re.search(r"(src|href)=\"https?://", text) and "boom" not in text
