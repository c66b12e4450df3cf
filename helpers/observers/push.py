"""Push-ability: can a developer push an app right now? (uptimer's "app pushability")

In a loop: push a small app (the probe) with one instance, wait until it runs, curl it
through the router until it answers, delete it and its route. One sample per attempt,
spanning the whole attempt; the error class says which part failed (`api_unreachable`,
`staging_failed`, `push_timeout`, `push_failed`, `not_routable`, `delete_failed`). Each
attempt is bounded by `attempt_timeout` (the CF client's own waits are capped by it), so a
broken platform yields failed samples, not a hung prober.

Policy: pushing needs the BBS (D1's database VM) and the stager, cc_uploader, nsync and
auctioneer (D2's cc_bridge and brain VMs); the stories deploy one instance of each
(diego-release@v0.1434.0:manifest-generation/diego.yml:761-819), so while D1 or D2 updates
no push can succeed, on a real BOSH-Lite as here. Those steps are recorded, not enforced,
by default; the cell steps (D3, D4) are enforced.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from helpers.cf import CFError, CFTimeoutError
from helpers.http_probe import FetchResult, classify_exception, classify_response
from helpers.observers.base import Observer, ObserverContext
from helpers.observers.policy import RECORDED
from helpers.prober import LoopProber, Prober
from helpers.samples import Sample


class PushAbility(Observer):
    name = "push"
    title = "push-ability"
    about = "push app"
    OPTIONS = {"interval": 2.0, "attempt_timeout": 60.0}
    STEP_POLICIES = {"upgrade D1": RECORDED, "upgrade D2": RECORDED}

    def headline(self, step: str) -> str:
        return f"pushing an app failed during {step!r}"

    def start_timeout(self, ctx: ObserverContext) -> float:
        return max(ctx.timeout("route_ready"), self.options["attempt_timeout"] * ctx.scale)

    def prepare(self, ctx: ObserverContext) -> None:
        cap = self.options["attempt_timeout"] * ctx.scale
        self.cf = ctx.new_cf(timeout=lambda name: min(ctx.timeout(name), cap), poll_interval=0.1)
        self.session = ctx.http_session(2.0, 5.0)
        self._n = itertools.count(1)
        self.leftovers: list[str] = []

    def make_prober(self, ctx: ObserverContext) -> Prober:
        cap = self.options["attempt_timeout"] * ctx.scale
        return LoopProber(self.name, self._attempt, interval=self.options["interval"], attempt_timeout=cap)

    def _attempt(self, sample: Sample) -> None:
        ctx = self.ctx
        assert ctx is not None
        name = f"push-{ctx.run_id}-{next(self._n)}"
        deadline = time.monotonic() + self.options["attempt_timeout"] * ctx.scale
        sample.instance = name
        try:
            app = self.cf.push(name, ctx.app_dir, ctx.space_guid, instances=1, enable_ssh=False)
        except CFError as exc:
            sample.error = _push_error(exc)
            sample.detail = f"push of {name}: {exc}"[:240]
            created = getattr(exc, "app", None)
            if created is not None:
                self._delete(created, sample, quiet=True)
            return
        if ctx.record is not None:
            ctx.record.app("push", name, app.guid)
        try:
            self._curl(app, sample, deadline)
        finally:
            self._delete(app, sample, quiet=sample.error is not None)

    def _curl(self, app: Any, sample: Sample, deadline: float) -> None:
        url = self.cf.app_url(app).rstrip("/") + "/id"
        last = "no answer"
        while True:
            try:
                resp = self.session.get(url, headers={"Connection": "close"}, allow_redirects=False)
                error = classify_response_status(resp)
                if error is None:
                    return
                last = f"{error} {resp.status_code}"
            except Exception as exc:
                last = classify_exception(exc)
            if self.prober is not None and self.prober.stopping:
                sample.conclusive, sample.error = False, "stopped"  # the run ends: no verdict
                sample.detail = f"{app.name}: the run ended before it answered ({last})"
                return
            if time.monotonic() >= deadline:
                sample.error = "not_routable"
                sample.detail = f"{app.name} running but never answered at {url} ({last})"
                return
            time.sleep(0.1)

    def _delete(self, app: Any, sample: Sample, quiet: bool) -> None:
        try:
            self.cf.delete_app(app.guid)
            for route in getattr(app, "routes", []) or []:
                self.cf.delete_route(route)
        except Exception as exc:
            self.leftovers.append(app.guid)
            if not quiet:
                sample.error = "delete_failed"
                sample.detail = f"delete of {app.name}: {exc}"[:240]
            return
        if self.ctx is not None and self.ctx.record is not None:
            self.ctx.record.forget_app("push")

    def cleanup(self) -> None:
        for guid in list(self.leftovers):  # what a failed delete left behind (the org goes anyway)
            try:
                self.cf.delete_app(guid)
                self.leftovers.remove(guid)
            except Exception:
                pass


def classify_response_status(resp: Any) -> str | None:
    return classify_response(FetchResult(resp.status_code, dict(resp.headers), ""))


def _push_error(exc: CFError) -> str:
    if isinstance(exc, CFTimeoutError):
        return "push_timeout"
    if exc.http_status is None and "staging" not in (exc.request or ""):
        return "api_unreachable"
    if "Staging" in (exc.error_code or "") or (exc.request or "") == "staging":
        return "staging_failed"
    return "push_failed"
