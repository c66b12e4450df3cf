"""The checks after each story step: the smoke test with placement, and A0's scaling.

Each is an object with a `name` and `run(step) -> list[Verdict]` (raising `CheckFailed` or a
client error), so that the conductor can run the independent ones concurrently and keep
their results as data. Each run uses a CF client of its own (clients are not shared across
threads) and is recorded as a setup step for the timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from helpers import checks, story
from helpers.a0 import A0
from helpers.placement import placement_check
from helpers.steps import StepRecorder
from helpers.verdicts import Verdict


class AfterCheck(Protocol):
    name: str  # smoke | scale

    def applies(self, step: story.Step) -> bool: ...
    def run(self, step: story.Step) -> list[Verdict]: ...


class Manifests(Protocol):
    def name(self, deployment: str) -> str: ...
    def releases(self, deployment: str, version: str) -> dict[str, str]: ...


def expected_placement(step: story.Step, manifests: Manifests) -> tuple[list[str], list[str], dict[str, str]]:
    """(cell deployment names, the allowed ones, allowed name -> Diego version expected)."""
    cells = [manifests.name(c) for c in story.CELLS]
    allowed = [manifests.name(c) for c in step.smoke_cells]
    expected = {manifests.name(c): manifests.releases(c, v).get("diego", "")
                for c, v in step.cell_versions.items() if c in step.smoke_cells}
    return cells, allowed, expected


class SmokeCheck:
    """A fresh 2-instance app with SSH: running, routable, logging, ssh per instance, placed on
    the cells of the intended Diego version, then deleted and its route gone."""

    name = "smoke"

    def __init__(self, *, new_cf: Callable[[], Any], director: Any, manifests: Manifests | None, http: checks.Http,
                 recent_logs: Callable[[Any, str], list[Any]], ssh_exec: Callable[..., Any], resolver: Any,
                 app_dir: Path, space_guid: Callable[[], str], run_id: str, timeout: Callable[[str], float],
                 recorder: StepRecorder, on_verdict: Callable[[Verdict], None] | None = None) -> None:
        self.new_cf, self.director, self.manifests, self.http = new_cf, director, manifests, http
        self.recent_logs, self.ssh_exec, self.resolver, self.app_dir = recent_logs, ssh_exec, resolver, app_dir
        self.space_guid, self.run_id, self.timeout = space_guid, run_id, timeout
        self.recorder, self.on_verdict = recorder, on_verdict

    def applies(self, step: story.Step) -> bool:
        return True

    def run(self, step: story.Step) -> list[Verdict]:
        return self.smoke(step.title, f"smoke-{self.run_id}-{step.id}", step).verdicts

    def smoke(self, title: str, name: str | None = None, step: story.Step | None = None) -> checks.SmokeResult:
        """The smoke test; with a story step (and manifests), with its placement check."""
        cf = self.new_cf()
        hook = None
        if step is not None and self.manifests is not None and self.director is not None:
            cells, allowed, expected = expected_placement(step, self.manifests)

            def hook(app_name: str, hosts: dict[int, str | None]) -> Verdict:
                return placement_check(cf, self.director, step=title, app={"name": app_name}, cells=cells,
                                       allowed=allowed, expected_diego=expected, hosts=hosts)

        label = f"smoke test after {title}" if step is not None else "smoke test"
        with self.recorder.step(label, kind="setup"):
            return checks.smoke_test(
                cf, self.recent_logs, self.ssh_exec, step=title, space_guid=self.space_guid(),
                app_dir=self.app_dir, http=self.http, resolver=self.resolver, instances=2, name=name,
                timeout=self.timeout("route_ready"), placement_hook=hook, on_verdict=self.on_verdict,
                timeouts={k: self.timeout(k) for k in ("app_start", "route_ready", "logs", "ssh", "route_gone")})


class ScaleCheck:
    """A0 scaled 1 -> 2 -> 1 after every upgrade step."""

    name = "scale"

    def __init__(self, a0: A0, recorder: StepRecorder) -> None:
        self.a0 = a0
        self.recorder = recorder

    def applies(self, step: story.Step) -> bool:
        return step.kind != "setup"

    def run(self, step: story.Step) -> list[Verdict]:
        with self.recorder.step(f"scale A0 after {step.title}", kind="setup"):
            return self.a0.scale(step.title)
