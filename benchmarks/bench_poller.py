"""A0 routable's resolution and cost: `python benchmarks/bench_poller.py [shared|project|plain]`.

A loopback server in a child process (fixtures/localserver.py) answers 200, and is switched
to 502 (X-Cf-Routererror: endpoint_failure) for 0.2, 0.5, 1 and 3 seconds. The poller runs
at 10 Hz with fresh connections; each injected outage must show up as one outage window
whose measured duration is within one sample interval of the injected one (the prober and
the HTTP attempt are the A0 routable observer's, helpers/prober.py + helpers/http_probe.py). CPU: the
process's CPU time (user+sys) per wall second while polling a healthy server (the server's
own CPU is in the child and not counted).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from helpers.http_probe import http_attempt, requests_fetch, shared_session_fetch  # noqa: E402
from helpers.prober import FixedRateProber  # noqa: E402
from helpers.samples import outage_windows  # noqa: E402

INTERVAL = 0.1
OUTAGES = (0.2, 0.5, 1.0, 3.0)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_fetch(kind: str):
    """plain: a new requests.Session per request; project: a new helpers.net.http_session
    (resolve map, TLS settings, no retries) per request; shared: one http_session for all
    requests, each still on a fresh connection (`Connection: close`) - the A0 fixture's way."""
    if kind == "plain":
        return requests_fetch(requests.Session)
    from helpers.net import Resolver, TlsSettings, http_session

    def factory():
        return http_session(TlsSettings(), Resolver(), timeout=(1.0, 1.0), retries=0, pool_maxsize=32)

    if kind == "shared":
        return shared_session_fetch(factory())
    return requests_fetch(factory)


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else "shared"
    child = subprocess.Popen([sys.executable, "-m", "fixtures.localserver"], cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    url = child.stdout.readline().strip()
    base = url.rsplit("/", 1)[0]

    def mode(m: str) -> float:
        requests.get(f"{base}/_mode/{m}", timeout=2)
        return time.monotonic()

    poller = FixedRateProber("a0_routable", http_attempt(url, make_fetch(kind), 1.0, 1.0), interval=INTERVAL,
                             attempt_timeout=2.0, workers=16)
    try:
        poller.start()
        poller.wait_ok(5)
        # CPU at 10 Hz against a healthy server
        c0, t0 = cpu(), time.monotonic()
        time.sleep(10)
        cpu_share = (cpu() - c0) / (time.monotonic() - t0)
        injected = []
        for seconds in OUTAGES:
            time.sleep(1.0)
            start = mode("502")
            time.sleep(seconds)
            end = mode("ok")
            injected.append((seconds, start, end))
        time.sleep(1.0)
    finally:
        poller.stop()
        child.stdin.close()
        child.wait(5)
    windows = outage_windows(poller.samples(), INTERVAL)
    rows = []
    ok = True
    for seconds, start, end in injected:
        match = [w for w in windows if w.first_fail_mono <= end + INTERVAL and w.last_fail_mono >= start - INTERVAL]
        measured = match[0].duration if len(match) == 1 else None
        actual = end - start
        within = measured is not None and abs(measured - actual) <= INTERVAL
        ok = ok and within
        rows.append({"injected_s": seconds, "actual_s": round(actual, 3), "windows": len(match),
                     "measured_s": None if measured is None else round(measured, 3),
                     "error_s": None if measured is None else round(measured - actual, 3),
                     "within_one_interval": within})
    result = {"session": kind, "interval_s": INTERVAL, "samples": len(poller.samples()), "outages": rows,
              "poller_cpu_share_at_10hz": round(cpu_share, 4), "all_within_one_interval": ok,
              "skipped_ticks": poller.skipped_ticks}
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
