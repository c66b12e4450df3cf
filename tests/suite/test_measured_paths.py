"""Issue 13, done when: a path broken during a Diego step fails exactly that measurement's
test for that step, and only that; the same fault during the CF step is recorded, not failed.

Each test runs the whole upgrade suite against its own simulator, with a FaultProxy
(faultproxy.py) put in front of one measured path through the config's resolve map: outside
the simulator, as a broken network or component would be. The proxy is broken when
"upgrade D3" starts and restored when it ends (so the fault spans the step's real length,
whatever the load), then again for "upgrade CF".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from faultproxy import FaultProxy
from harness import run_suite, write_config

from helpers.config import Config, load_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SUITE = "suites/upgrade_stable"
RUN_ID = "paths"


def _host_port(url: str, default: int) -> str:
    parts = urlsplit(url if "://" in url else f"//{url}")
    return f"{parts.hostname}:{parts.port or default}"


def _log_endpoints(cfg: Config) -> list[str]:
    """Every `doppler.<domain>:<port>` (and `log-cache.<domain>:<port>`, which helpers.logs falls
    back on where a CF has it) the config's resolve map reaches: the CF is not deployed yet,
    so its /v2/info cannot say which port Loggregator's endpoint uses."""
    domain = cfg.cf.system_domain
    ports = {key.rsplit(":", 1)[1] for key in cfg.resolve if key.startswith(f"*.{domain}:")}
    exact = [key for key in cfg.resolve if key.startswith((f"doppler.{domain}:", f"log-cache.{domain}:"))]
    return sorted({f"{host}.{domain}:{port}" for host in ("doppler", "log-cache") for port in ports} | set(exact))


@dataclass(frozen=True)
class Path_:
    measurement: str  # the observer whose tests must fail
    endpoints: Callable[[Config], list[str]]  # the "host:port"s to break


PATHS = {
    # A0's route through the router (the measurements that emit log lines through it are
    # left unmeasured, not failed: that is A0 routable's failure to report)
    "the app's route": Path_("a0_routable", lambda cfg: [f"a0-{RUN_ID}.{cfg.cf.apps_domain}:80"]),
    # Loggregator's endpoints (recent logs; the era's stream shares them)
    "the log endpoints": Path_("a0_recent_logs", _log_endpoints),
    # the Diego ssh proxy (CF's default app_ssh endpoint)
    "the ssh proxy": Path_("a0_ssh", lambda cfg: [f"ssh.{cfg.cf.system_domain}:2222"]),
    # the Cloud Controller, whose API is the push path
    "CC's push path": Path_("push", lambda cfg: [_host_port(cfg.cf.api or "", 443)]),
}
# the era's log stream and recent logs share one endpoint: breaking it may fail both
ALSO_ALLOWED = {"a0_recent_logs": {"a0_log_stream"}}


@pytest.mark.parametrize("path", list(PATHS))
def test_a_path_broken_during_a_diego_step_fails_only_its_measurement_there(sim_factory, tmp_path, path):
    spec = PATHS[path]
    _, base = sim_factory()
    cfg = load_config(base)
    proxies = {}
    for endpoint in spec.endpoints(cfg):
        host, port = endpoint.rsplit(":", 1)
        proxies[endpoint] = FaultProxy(cfg.resolver().resolve(host, int(port)), name=endpoint)
    try:
        config = write_config(base, tmp_path / "proxied.yml",
                              resolve={e: p.address for e, p in proxies.items()})
        faults = [{"at": step, "when": when, "proxy": proxy.control_address, "action": action}
                  for step in ("upgrade D3", "upgrade CF")
                  for when, action in (("start", "break"), ("end", "restore")) for proxy in proxies.values()]
        run = run_suite([SUITE], config=config, artifacts=tmp_path / "art", faults=faults,
                        extra=["--run-id", RUN_ID])
    finally:
        for proxy in proxies.values():
            proxy.close()
    for proxy in proxies.values():
        assert proxy.events[:4] == ["break", "restore", "break", "restore"], run.output[-3000:]
    report = run.report
    failed = [r["nodeid"].rsplit("::", 1)[-1] for r in report["results"] if r["outcome"] == "failed"]
    expected = f"test_{spec.measurement}_during_upgrade_d3"
    allowed = {expected} | {f"test_{m}_during_upgrade_d3" for m in ALSO_ALLOWED.get(spec.measurement, ())}
    assert expected in failed and set(failed) <= allowed, (failed, run.output[-4000:])
    assert run.returncode == 1

    _, message = run.outcome(expected)
    d3 = next(s for s in report["story"] if s["title"] == "upgrade D3")
    measured = d3["measurements"][spec.measurement]
    # the failure names the measurement, the step, the BOSH tasks and the windows
    assert measured["outcome"] == "failed" and measured["violations"]
    assert "during 'upgrade D3'" in message and "outage at" in message
    tasks = {op["task"] for op in d3["ops"]}
    assert measured["tasks"] and set(measured["tasks"]) <= tasks
    assert "BOSH task" in message
    # and every failure names all the step's tasks, whether or not its windows overlapped them (issue 12)
    assert f"during 'upgrade D3' (BOSH tasks {', '.join(str(op['task']) for op in d3['ops'])}): " in message

    cf = next(s for s in report["story"] if s["title"] == "upgrade CF")["measurements"][spec.measurement]
    assert cf["outcome"] == "recorded" and cf["failed"] > 0 and not cf["violations"]
    assert run.outcome(f"test_{spec.measurement}_during_upgrade_cf")[0] == "passed"
