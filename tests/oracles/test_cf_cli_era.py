"""The era's own cf CLI against the era-exact simulator, with no adapter in between.

The oracle cf 6.53 cannot target a CC of cf v220/v231 (it needs `GET /`, log-cache and v3
apps: docs/architecture.md, "cf CLI 6.53 against the era"), so `test_cf_cli.py` asserts those
failures. A CLI of the era takes the paths the era's CC, doppler and loggregator served, and
with it every step of a user's session must pass: push exit 0, `cf app`, recent logs and the
log stream included.

Opt-in: collected only when `ERA_CF_CLI` names such a binary (tests/oracles/conftest.py), since
none is in `../shared/oracles/` and its source is not reachable from CI. The pipeline's
`build-cf-cli` builds one: cloudfoundry/cli@74b98e9 (v6.15.0) with `ci/scripts/build-cf-cli.sh`
(docs/ci.md, "The cf CLI that CATs and DATs drive"):

    ERA_CF_CLI=/path/to/cf pytest tests/oracles/test_cf_cli_era.py

The paths asserted are those of cf CLI v6.15.0's source: `cf api` reads only `/v2/info`
(cf/api/endpoints.go); `cf app` reads `/v2/apps/<g>/summary`, `/instances`, `/stats`
(cf/commands/application/app.go); logs use the legacy loggregator endpoint of `/v2/info`
`logging_endpoint` (cf/api/repository_locator.go:89): recent logs over HTTP, the stream as a
websocket to `wss://loggregator.<domain>:443/tail/?app=<guid>`
(vendor/github.com/cloudfoundry/loggregator_consumer/consumer.go:108), each line held
`BufferTime` (5 s, cf/api/log_repository.go:33) to be sorted before it is printed.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ci.cf_cli_era import cli_problems, era_releases
from simulator.launcher import REPO_ROOT
from tests.oracles.cf_session import API, APP, PROBE, Session, exchanges
from tests.oracles.privatehost import FRONT_ADDRESS

pytestmark = pytest.mark.slow

ERA_CLI = Path(os.environ.get("ERA_CF_CLI", "cf-not-given"))


@pytest.fixture(scope="module")
def session(oracle_env: Callable[..., Any]) -> Iterator[Session]:
    assert ERA_CLI.is_file() and os.access(ERA_CLI, os.X_OK), f"ERA_CF_CLI={ERA_CLI} is not an executable file"
    env = oracle_env(preload=("v0",))
    env.cf_binary = ERA_CLI
    deployed = env.python("tests.oracles.deploy_set", str(env.sim.config_path), str(env.workdir / "manifests"),
                          "v0")
    assert deployed.returncode == 0, deployed.describe()
    yield Session(env)


def _cf_requests(result: Any) -> list[tuple[str, str]]:
    return [(method, url.split("?")[0]) for method, url, _, _ in exchanges(result.stdout)]


def test_version_is_one_the_era_can_serve(session: Session) -> None:
    result = session.ok("version", "--version")
    found = re.search(r"cf version (\d+\.\d+\.\d+)", result.stdout)
    assert found, result.describe()
    assert cli_problems(found.group(1), set(), era_releases(REPO_ROOT)) == [], result.stdout


def test_api(session: Session) -> None:
    result = session.cf("api", API, "--skip-ssl-validation", trace=True)
    assert result.returncode == 0, result.describe()
    assert re.search(r"API version: 2\.39\.0", result.stdout), result.describe()
    assert _cf_requests(result) == [("GET", "api.bosh-lite.com/v2/info")], result.stdout  # no `GET /`
    session.done.add("api")


def test_auth(session: Session) -> None:
    session.needs("api")
    cfg = session.env.config["cf"]
    result = session.ok("auth", "auth", cfg["admin_user"], cfg["admin_password"])
    assert "OK" in result.stdout


def test_create_org(session: Session) -> None:
    session.needs("auth")
    session.ok("create-org", "create-org", "o1")


def test_create_space(session: Session) -> None:
    session.needs("create-org")
    session.ok("create-space", "create-space", "s1", "-o", "o1")


def test_target(session: Session) -> None:
    session.needs("create-space")
    result = session.ok("target", "target", "-o", "o1", "-s", "s1")
    assert re.search(r"Org:\s+o1", result.stdout) and re.search(r"Space:\s+s1", result.stdout), result.describe()


def test_push(session: Session) -> None:
    session.needs("target")
    result = session.cf("push", APP, "-p", str(PROBE), "-m", "64M", trace=True)
    assert result.returncode == 0, result.describe()
    assert re.search(r"#0\s+running", result.stdout), result.describe()
    assert not [r for r in _cf_requests(result) if "/v3/" in r[1]], "the era CLI pushes through v2 only"
    session.done.add("push")


def test_app(session: Session) -> None:
    session.needs("push")
    result = session.cf("app", APP, trace=True)
    assert result.returncode == 0, result.describe()
    assert re.search(r"requested state: started", result.stdout) and re.search(r"#0\s+running", result.stdout), \
        result.describe()
    paths = {url for _, url in _cf_requests(result)}
    guid = session.app_guid()
    expected = {f"api.bosh-lite.com/v2/apps/{guid}/summary", f"api.bosh-lite.com/v2/apps/{guid}/instances"}
    assert expected <= paths, f"cf app: expected requests {sorted(expected)}, saw {sorted(paths)}"


def test_scale(session: Session) -> None:
    session.needs("push")
    session.ok("scale", "scale", APP, "-i", "2")
    session.wait_instances(2)


def test_logs_recent(session: Session) -> None:
    session.needs("push")
    result = session.cf("logs", APP, "--recent")
    assert result.returncode == 0, result.describe()
    assert re.search(r"\[API/\d+\]\s+OUT Created app with guid ", result.stdout), result.describe()
    assert re.search(r"\[App/0\]\s+OUT .*listening on", result.stdout), result.describe()


class _Output:
    """A long-running command's output, read as it comes (a pipe must not fill up)."""

    def __init__(self, child: Any) -> None:
        self.text = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(child,), daemon=True).start()

    def _read(self, child: Any) -> None:
        for raw in iter(child.stdout.readline, b""):
            with self._lock:
                self.text += raw.decode(errors="replace")

    def has(self, needle: str) -> bool:
        with self._lock:
            return needle in self.text


def test_logs(session: Session) -> None:
    """A line the app prints after `cf logs` connected reaches it over the legacy stream."""
    session.needs("push")
    nonce = f"era-stream-{uuid.uuid4().hex[:8]}"
    child = session.env.cf_spawn("logs", APP, env={"CF_TRACE": "true"})
    out = _Output(child)
    hitter = None
    try:
        deadline = time.monotonic() + 30
        while not out.has("Connected, tailing logs") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert out.has("Connected, tailing logs"), out.text[-3000:]
        hits = ("import http.client, time\n"
                "for _ in range(40):\n"
                f"    c = http.client.HTTPConnection({FRONT_ADDRESS!r}, 80, timeout=5)\n"
                f"    c.request('GET', '/log/{nonce}', headers={{'Host': '{APP}.bosh-lite.com'}})\n"
                "    c.getresponse().read()\n"
                "    time.sleep(1)\n")
        hitter = session.env.host.spawn([sys.executable, "-c", hits])
        deadline = time.monotonic() + 30  # each line waits BufferTime (5 s) in the CLI
        while not out.has(f"nonce {nonce}") and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        if hitter is not None:
            hitter.kill()
        child.kill()
    assert re.search(rf"\[App/\d\]\s+OUT nonce {nonce} index \d", out.text), out.text[-3000:]
    assert f"GET /tail/?app={session.app_guid()} HTTP/1.1\nHost: wss://loggregator.bosh-lite.com:443" in out.text, \
        f"cf logs did not stream from the legacy /tail/ endpoint:\n{out.text[-3000:]}"


def test_ssh_i_1(session: Session) -> None:
    session.needs("scale")
    result = session.cf("ssh", APP, "-i", "1", "-c", 'echo "index=$CF_INSTANCE_INDEX"', timeout=120)
    assert result.returncode == 0, result.describe()
    assert result.stdout.strip() == "index=1", result.describe()


def test_events(session: Session) -> None:
    session.needs("scale")
    result = session.ok("events", "events", APP)
    assert "audit.app.create" in result.stdout and "audit.app.update" in result.stdout, result.describe()


def test_delete_r_f(session: Session) -> None:
    session.needs("push")
    session.ok("delete", "delete", APP, "-r", "-f")
    assert session.curl(f"/v2/apps?q=name:{APP}")["total_results"] == 0
