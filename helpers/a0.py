"""A0, the stories' long-lived app: pushed once after V0, scaled 1 -> 2 -> 1 after every step,
and observed continuously in between (routability, logs, ssh: `helpers/observers/`).

It lives in the run's space and is recorded in the run record, so it is this run's and is
deleted with the run's org.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import checks
from helpers.record import RunRecord
from helpers.verdicts import Budget, Verdict, require, wait_for


class A0:
    def __init__(self, *, new_cf: Callable[..., Any], http: checks.Http, app_dir: Path,
                 timeout: Callable[[str], float], record: RunRecord,
                 on_verdict: Callable[[Verdict], None] | None = None) -> None:
        self.new_cf = new_cf
        self.http = http
        self.app_dir = Path(app_dir)
        self.timeout = timeout
        self.record = record
        self.on_verdict = on_verdict
        self.app: Any = None
        self.url: str | None = None

    @property
    def name(self) -> str:
        return f"a0-{self.record.run_id}"

    def _note(self, v: Verdict, history: list[Verdict] | None = None) -> Verdict:
        if self.on_verdict is not None:
            self.on_verdict(v)
        return require(v, history)

    def push(self, space_guid: str, step: str = "deploy V0") -> list[Verdict]:
        """One instance with SSH enabled; RUNNING and answering through the router."""
        cf = self.new_cf()
        self.app = cf.push(self.name, self.app_dir, space_guid, instances=1, enable_ssh=True)
        self.url = cf.app_url(self.app)
        self.record.app("A0", self.name, self.app.guid, url=self.url)
        v, hist = wait_for(lambda: checks.instances_running(step, "A0", cf.instances(self.app.guid), 1),
                           Budget(self.timeout("app_start"), 0.2))
        running = self._note(v, hist)
        reached = checks.collect_instances(self.http, self.url, 1, Budget(self.timeout("route_ready"), 0.1))
        return [running, self._note(checks.instances_routable(step, "A0", reached.instances, 1, reached.attempts,
                                                              reached.answers))]

    def scale(self, step: str) -> list[Verdict]:
        """1 -> 2 -> 1: both RUNNING and each routable; then the second gone from stats and routing."""
        if self.app is None:
            raise RuntimeError("A0 was never pushed (deploy V0 did not finish)")
        return checks.scale_check(self.new_cf(), self.http, step=step, app=self.app, timeout=self.timeout("scale"),
                                  on_verdict=self.on_verdict)
