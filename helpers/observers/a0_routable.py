"""A0 routable: the stories' continual routability check, as an observer.

A fixed schedule (10 Hz by default) of `GET http://<A0>/id` through the router, each on a
fresh connection, classified by the HTTP error taxonomy (`helpers/http_probe.py`):
`connect_refused` (HAProxy gone), `unknown_route`, `endpoint_failure`, `read_timeout`, ...
"""

from __future__ import annotations

from helpers.http_probe import http_attempt, shared_session_fetch
from helpers.observers.base import Observer, ObserverContext
from helpers.prober import FixedRateProber, Prober


class A0Routable(Observer):
    name = "a0_routable"
    title = "A0 routable"
    OPTIONS = {"interval": 0.1, "connect_timeout": 1.0, "read_timeout": 1.0, "workers": 16}

    def headline(self, step: str) -> str:
        return f"A0 lost its route during {step!r}"

    def make_prober(self, ctx: ObserverContext) -> Prober:
        o = self.options
        workers = int(o["workers"])
        # one session (TLS and resolver set up once: ~2% of a core at 10 Hz instead of ~30%),
        # every request on a fresh connection (benchmarks/bench_poller.py)
        session = ctx.http_session(o["connect_timeout"], o["read_timeout"], max(workers, 32))
        url = ctx.a0_url.rstrip("/") + "/id"
        self.url = url
        attempt = http_attempt(url, shared_session_fetch(session), o["connect_timeout"], o["read_timeout"])
        return FixedRateProber(self.name, attempt, interval=o["interval"],
                               attempt_timeout=o["connect_timeout"] + o["read_timeout"], workers=workers)
