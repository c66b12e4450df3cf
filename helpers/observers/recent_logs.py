"""A0 recent logs: a fresh line A0 prints shows up in its recent logs within N seconds.

Each attempt makes A0 print a unique line (`GET /log/<nonce>` through its route; the probe
prints `nonce <nonce> index <i>`) and reads A0's recent logs (`helpers.logs.recent_logs`,
the era's doppler endpoint) until the line is there (ok), `within` seconds pass (failed:
`line_missing`), or a read fails (failed: what `cf logs --recent` would have hit). When A0
does not take the line (its route is down: what A0 routable measures), the attempt is
inconclusive: it says nothing about logs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from helpers.http_probe import FetchResult, classify_exception, classify_response
from helpers.logs import recent_logs
from helpers.observers.base import Observer, ObserverContext
from helpers.prober import LoopProber, Prober
from helpers.samples import Sample


def emit_line(session: Any, a0_url: str) -> tuple[str | None, str | None]:
    """Make A0 print a fresh line: (nonce, None), or (None, why it did not take it)."""
    nonce = uuid.uuid4().hex[:12]
    try:
        resp = session.get(f"{a0_url.rstrip('/')}/log/{nonce}", headers={"Connection": "close"},
                           allow_redirects=False)
    except Exception as exc:
        return None, classify_exception(exc)
    error = classify_response(FetchResult(resp.status_code, dict(resp.headers), ""))
    return (nonce, None) if error is None else (None, f"{error} {resp.status_code}")


def is_line(line: Any, nonce: str) -> bool:
    """The probe's own line for `nonce`, from an APP source (never another source's echo)."""
    message = str(getattr(line, "message", "")).strip()
    return message.startswith(f"nonce {nonce} index ") and str(getattr(line, "source_type", "")).startswith("APP")


class A0RecentLogs(Observer):
    name = "a0_recent_logs"
    title = "A0 recent logs"
    OPTIONS = {"interval": 1.0, "within": 10.0, "poll": 0.25}

    def headline(self, step: str) -> str:
        return f"A0's recent logs failed during {step!r}"

    def prepare(self, ctx: ObserverContext) -> None:
        self.cf = ctx.new_cf()
        self.session = ctx.http_session(2.0, 5.0)

    def make_prober(self, ctx: ObserverContext) -> Prober:
        return LoopProber(self.name, self._attempt, interval=self.options["interval"],
                          attempt_timeout=self.options["within"] + 10.0)

    def _attempt(self, sample: Sample) -> None:
        ctx = self.ctx
        assert ctx is not None
        nonce, why = emit_line(self.session, ctx.a0_url)
        if nonce is None:
            sample.error, sample.conclusive = "emit_failed", False
            sample.detail = f"A0 did not take the log line ({why})"
            return
        emitted = time.monotonic()
        deadline = emitted + self.options["within"]  # what "fresh" means: not scaled
        reads = 0
        while True:
            reads += 1
            try:
                lines = recent_logs(self.cf, ctx.a0.guid)
            except Exception as exc:
                sample.error = "logs_unreachable"
                sample.detail = f"recent logs of A0: {type(exc).__name__}: {str(exc)[:200]}"
                return
            if any(is_line(ln, nonce) for ln in lines):
                sample.latency = time.monotonic() - emitted
                return
            if time.monotonic() >= deadline:
                sample.error = "line_missing"
                sample.detail = (f"line 'nonce {nonce}' not in A0's recent logs {self.options['within']:g}s "
                                 f"after A0 printed it ({reads} reads, {len(lines)} lines seen)")
                return
            time.sleep(self.options["poll"])
