"""The real cf CLI v6.53.0 against the era-exact simulator (five generated V0 deployments).

Two facts frame these tests (docs/architecture.md, "cf CLI 6.53 against the era"):
* cf 6.53 requires `GET /` when it targets, which the CC of cf v220/v231 answers with its 404:
  `test_api_fails_against_the_era_exactly_as_against_real_cf_v220` proves that with CF_TRACE;
* past that, a **test-side adapter** (tests/oracles/cc_root_adapter.py: a stand-in for the
  newer CLI's discovery requirement, not a claim about the era) answers `GET /` and `GET /v3`
  from what the era CC serves and forwards everything else, so the real CLI can judge the
  simulator's v2/v3, UAA, doppler and ssh-proxy contracts command by command.

Each listed command is its own test, in the order of a user's session (they share the CLI's
state: target, org, space, app). A command passes where the era's contracts allow it; where
6.53 needs what the era did not have, the test asserts precisely that failure: the request
the CLI made and the era's answer, with the CLI source that makes it.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.oracles.cf_session import API, APP, PROBE, Session, exchanges
from tests.oracles.privatehost import FRONT_ADDRESS, Result

pytestmark = pytest.mark.slow

ADAPTER_ADDRESS = "127.0.0.2"  # loopback inside the private host: where the adapter listens


@pytest.fixture(scope="module")
def session(oracle_env: Callable[..., Any]) -> Iterator[Session]:
    env = oracle_env(preload=("v0",))
    deployed = env.python("tests.oracles.deploy_set", str(env.sim.config_path), str(env.workdir / "manifests"),
                          "v0")
    assert deployed.returncode == 0, deployed.describe()
    yield Session(env)


def _use_adapter(s: Session) -> None:
    """From now on the API host is the test-side adapter, which forwards to HAProxy."""
    if "adapter" in s.done:
        return
    s.env.spawn_ready([sys.executable, str(Path(__file__).with_name("cc_root_adapter.py")),
                       f"{ADAPTER_ADDRESS}:443", f"{FRONT_ADDRESS}:443", str(s.adapter_log)])
    s.env.host.set_hostname("api.bosh-lite.com", ADAPTER_ADDRESS)
    s.done.add("adapter")


# ------------------------------------------------------------------ the era truth


def test_api_fails_against_the_era_exactly_as_against_real_cf_v220(session: Session) -> None:
    result = session.cf("api", API, "--skip-ssl-validation", trace=True)
    assert result.returncode == 1, result.describe()
    assert "FAILED" in result.stdout and result.stderr.strip().endswith("Unknown request"), result.describe()
    seen = exchanges(result.stdout)
    assert [(m, u, st) for m, u, st, _ in seen] == [
        ("GET", "api.bosh-lite.com/v2/info", 200), ("GET", "api.bosh-lite.com/", 404)], result.stdout
    info = seen[0][3]
    assert '"api_version": "2.39.0"' in info and "log_cache" not in info
    assert '"error_code": "CF-NotFound"' in seen[1][3] and '"code": 10000' in seen[1][3]


# ------------------------------------------------------------------ through the adapter


def test_api(session: Session) -> None:
    _use_adapter(session)
    result = session.ok("api", "api", API, "--skip-ssl-validation")
    assert re.search(r"api version:\s+2\.39\.0", result.stdout), result.describe()
    served = [(r["method"], r["path"]) for r in session.adapter_requests() if r["answered"] == "adapter"]
    assert set(served) <= {("GET", "/"), ("GET", "/v3")}, served  # the adapter answers nothing else


def test_auth(session: Session) -> None:
    session.needs("api")
    cfg = session.env.config["cf"]
    result = session.ok("auth", "auth", cfg["admin_user"], cfg["admin_password"])
    assert "OK" in result.stdout
    assert cfg["admin_password"] not in result.output


def test_create_org(session: Session) -> None:
    session.needs("auth")
    session.ok("create-org", "create-org", "o1")
    assert [r["entity"]["name"] for r in session.curl("/v2/organizations?q=name:o1")["resources"]] == ["o1"]


def test_create_space(session: Session) -> None:
    session.needs("create-org")
    session.ok("create-space", "create-space", "s1", "-o", "o1")
    assert session.curl("/v2/spaces?q=name:s1")["total_results"] == 1


def test_target(session: Session) -> None:
    session.needs("create-space")
    result = session.ok("target", "target", "-o", "o1", "-s", "s1")
    assert re.search(r"org:\s+o1", result.stdout) and re.search(r"space:\s+s1", result.stdout), result.describe()


def test_push(session: Session) -> None:
    """Era failure after a complete v2 push: 6.53 shows the pushed app through `GET /v3/apps?names=`
    (command/v6/push_command.go:163 -> actor/v2v3action/application_summary.go:24), and a v2 app
    is no v3 app in CC 2.39 (cloud_controller_ng@64d935a app/controllers/v3/apps_controller.rb:29-47
    lists AppModel only): `App 'probe' not found.`, exit 1."""
    session.needs("target")
    result = session.cf("push", APP, "-p", str(PROBE), "-m", "64M", trace=True)
    seen = exchanges(result.stdout)
    paths = [(m, u.split("?")[0]) for m, u, _, _ in seen]
    assert ("POST", "api.bosh-lite.com/v2/apps") in paths, result.describe()
    assert any(m == "PUT" and u.endswith("/bits") for m, u in paths), result.describe()
    # the v2 push itself completed: the app is staged, started and RUNNING
    entity = session.curl(f"/v2/apps/{session.app_guid()}")["entity"]
    assert (entity["state"], entity["package_state"], entity["diego"]) == ("STARTED", "STAGED", True)
    session.wait_instances(1)
    session.done.add("push")
    # ... and then the summary the era cannot give
    summary = [x for x in seen if x[1].startswith("api.bosh-lite.com/v3/apps?names=probe")]
    assert summary and summary[-1][2] == 200 and '"total_results": 0' in summary[-1][3], result.describe()
    assert result.returncode == 1 and result.stderr.strip().endswith("App 'probe' not found."), result.describe()


def test_scale(session: Session) -> None:
    session.needs("push")
    session.ok("scale", "scale", APP, "-i", "2")
    session.wait_instances(2)


def test_app(session: Session) -> None:
    """Era failure: `cf app` is a v3 command in 6.53 (command/v6/v3_app_command.go:65), and the
    era's `GET /v3/apps?names=probe&space_guids=...` lists no v2 app."""
    session.needs("push")
    result = session.cf("app", APP, trace=True)
    seen = exchanges(result.stdout)
    lookups = [x for x in seen if x[1].startswith("api.bosh-lite.com/v3/apps?names=probe&space_guids=")]
    assert lookups and lookups[-1][2] == 200 and '"total_results": 0' in lookups[-1][3], result.describe()
    assert result.returncode == 1 and result.stderr.strip().endswith("App 'probe' not found."), result.describe()


def _log_cache_only(result: Result) -> list[tuple[str, str, int | None, str]]:
    seen = exchanges(result.stdout)
    logs = [x for x in seen if not x[1].startswith(("api.bosh-lite.com", "uaa.", "login."))]
    assert logs, result.describe()
    assert all(host.startswith("log-cache.bosh-lite.com/") for _, host, _, _ in logs), logs
    assert all(st == 404 and "X-Cf-Routererror: unknown_route" in resp for _, _, st, resp in logs), logs
    return logs


def test_logs_recent(session: Session) -> None:
    """Era failure: 6.53 reads recent logs only from log-cache (actor/v2action/logging.go
    GetRecentLogsForApplicationByNameAndSpace -> actor/sharedaction/logging.go GetRecentLogs, URL
    `api` -> `log-cache`, command/v6/shared/new_clients.go); the era has no log-cache, so
    gorouter answers `404 unknown_route` for log-cache.bosh-lite.com."""
    session.needs("push")
    result = session.cf("logs", APP, "--recent", trace=True)
    logs = _log_cache_only(result)
    assert any("/v1/read/" in host for _, host, _, _ in logs)
    assert result.returncode == 1, result.describe()
    assert "Failed to retrieve logs from Log Cache: unexpected status code 404" in result.stderr


def test_logs(session: Session) -> None:
    """Era failure: streaming is log-cache polling too (actor/sharedaction/logging.go
    GetStreamingLogs, 5 tries 250 ms apart), never the era's wss://doppler:4443 stream: the
    CLI gives up and shows no line of the app."""
    session.needs("push")
    result = session.cf("logs", APP, trace=True, timeout=120)
    _log_cache_only(result)
    assert "Failed to retrieve logs from Log Cache: unexpected status code 404" in result.stderr
    assert "[APP/" not in result.stdout and "[RTR/" not in result.stdout
    assert result.returncode == 0, result.describe()  # LogsCommand.streamLogs returns nil once the walk gives up


def test_ssh_code(session: Session) -> None:
    session.needs("auth")
    result = session.ok("ssh-code", "ssh-code")
    assert re.fullmatch(r"[A-Za-z0-9_-]{6,}\n", result.stdout), "one code on one line"


def _ssh(session: Session, *args: str) -> Result:
    session.needs("scale")
    return session.cf("ssh", APP, *args, timeout=120)


def test_ssh_c(session: Session) -> None:
    result = _ssh(session, "-c", 'echo "index=$CF_INSTANCE_INDEX"; exit 3')
    assert result.returncode == 3, result.describe()
    assert result.stdout.strip() == "index=0"


def test_ssh_i_1(session: Session) -> None:
    result = _ssh(session, "-i", "1", "-c", 'echo "index=$CF_INSTANCE_INDEX"')
    assert result.returncode == 0, result.describe()
    assert result.stdout.strip() == "index=1"


def test_ssh_L(session: Session) -> None:
    """`cf ssh -L` forwards a local port to the app's port in the container (direct-tcpip)."""
    session.needs("scale")
    child = session.env.cf_spawn("ssh", APP, "-N", "-L", "127.0.0.1:18080:localhost:8080")
    try:
        probe = ("import time,urllib.request\n"
                 "for _ in range(60):\n"
                 "    try:\n"
                 "        print(urllib.request.urlopen('http://127.0.0.1:18080/index', timeout=2).read().decode());"
                 " break\n"
                 "    except Exception as e: time.sleep(0.5)\n")
        got = session.env.host.run([sys.executable, "-c", probe], timeout=60)
        assert got.stdout.strip() == "0", (got.describe(), child.poll())
    finally:
        child.kill()


def test_ssh_t(session: Session) -> None:
    """`cf ssh -t` asks for a terminal (pty-req) even without one locally."""
    result = _ssh(session, "-t", "-t", "-c", "tty >/dev/null && echo has-tty || echo no-tty")
    assert result.returncode == 0, result.describe()
    assert result.stdout.strip().endswith(("has-tty", "no-tty")), result.describe()


def test_restart_app_instance(session: Session) -> None:
    session.needs("scale")
    guid = session.app_guid()
    before = session.wait_instances(2)
    session.ok("restart-app-instance", "restart-app-instance", APP, "1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = session.curl(f"/v2/apps/{guid}/instances")
        if now.get("1", {}).get("since") != before["1"]["since"] and now["1"].get("state") == "RUNNING":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"instance 1 was not restarted: before {before}, now {now}")
    assert now["0"]["since"] == before["0"]["since"]  # only the named index


def test_events(session: Session) -> None:
    session.needs("scale")
    result = session.ok("events", "events", APP)
    assert "audit.app.create" in result.stdout and "audit.app.update" in result.stdout, result.describe()
    assert "instances: 2" in result.stdout, result.describe()


def test_delete_r_f(session: Session) -> None:
    session.needs("push")
    session.ok("delete", "delete", APP, "-r", "-f")
    assert session.curl(f"/v2/apps?q=name:{APP}")["total_results"] == 0
    assert session.curl(f"/v2/routes?q=host:{APP}")["total_results"] == 0
