"""Checks: pure verdicts, and the orchestrating functions against in-memory fakes."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import checks
from helpers.checks import (
    Budget,
    CheckFailed,
    deployment_versions,
    instance_gone,
    instances_routable,
    instances_running,
    logs_visible,
    max_requests_for,
    missing_uploads,
    no_existing_deployments,
    placement,
    reach_instances,
    route_gone,
    scale_check,
    smoke_test,
    ssh_ran,
)
from helpers.poller import FetchResult

STEP = "upgrade D3"

# ------------------------------------------------------------------ pure


def test_instances_running_ok_and_failures_named():
    assert instances_running(STEP, "a", {0: "RUNNING", 1: {"state": "RUNNING"}}, 2).ok
    v = instances_running(STEP, "smoke-1", {0: "RUNNING", 1: "CRASHED"}, 2)
    assert not v.ok and "instance 1 is CRASHED" in v.message and "smoke-1" in v.message
    assert "[upgrade D3]" in str(v)
    v = instances_running(STEP, "a", {0: "RUNNING"}, 2)
    assert "missing instance(s) [1]" in v.message
    v = instances_running(STEP, "a", {0: "RUNNING", 1: "RUNNING"}, 1)
    assert "unexpected instance(s) [1]" in v.message


def test_instances_routable():
    assert instances_routable(STEP, "a", {0: "g0", 1: "g1"}, 2).ok
    v = instances_routable(STEP, "a", {0: "g0", 1: None}, 2, attempts=7)
    assert not v.ok and "instance(s) [1] never answered" in v.message and "7 requests" in v.message
    assert not instances_routable(STEP, "a", {0: "g", 1: "g"}, 2).ok


@dataclass
class Line:
    message: str
    source_type: str
    source_instance: str


def test_logs_visible_exact_line_source_and_instance():
    lines = [Line("nonce n0 index 0", "APP/PROC/WEB", "0"), Line("nonce n1 index 1", "APP", "1")]
    assert logs_visible(STEP, "a", lines, {0: ["n0"], 1: ["n1"]}, 2).ok
    # wrong instance attribution
    bad = [Line("nonce n0 index 0", "APP", "1"), Line("nonce n1 index 1", "APP", "1")]
    v = logs_visible(STEP, "a", bad, {0: ["n0"], 1: ["n1"]}, 2)
    assert not v.ok and "[0]" in v.message
    # not an app line, and no regex semantics: "[HEALTH/0]"-style traps do not match
    assert not logs_visible(STEP, "a", [Line("nonce n0 index 0", "RTR", "0")], {0: ["n0"]}, 1).ok
    assert not logs_visible(STEP, "a", [Line("nonce .* index 0", "APP", "0")], {0: ["n0"]}, 1).ok
    assert logs_visible(STEP, "a", [{"message": b"nonce n0 index 0", "source_type": "APP",
                                     "source_instance": "0"}], {0: ["n0"]}, 1).ok


@dataclass
class Ssh:
    exit_status: int
    stdout: str
    stderr: str = ""


def test_ssh_ran():
    assert ssh_ran(STEP, "a", 1, Ssh(0, "index=1\nm\n"), "m").ok
    v = ssh_ran(STEP, "a", 1, Ssh(0, "index=0\nm\n"), "m")
    assert not v.ok and "lacks 'index=1'" in v.message
    v = ssh_ran(STEP, "a", 0, Ssh(1, "", "boom"))
    assert "exit status 1" in v.message and "boom" in v.message
    assert "ssh failed" in ssh_ran(STEP, "a", 0, OSError("refused")).message


def test_route_gone():
    assert route_gone(STEP, "a", 404, "unknown_route").ok
    v = route_gone(STEP, "a", 200, None)
    assert not v.ok and "status 200" in v.message
    assert not route_gone(STEP, "a", 404, None).ok
    assert "error connect_refused" in route_gone(STEP, "a", None, None, "connect_refused").message


def test_instance_gone():
    assert instance_gone(STEP, "A0", [0], 1, ["g0", "g0"], "g1").ok
    v = instance_gone(STEP, "A0", [0, 1], 1, ["g0"], "g1")
    assert not v.ok and "still in stats" in v.message
    v = instance_gone(STEP, "A0", [0], 1, ["g0", "g1"], "g1")
    assert not v.ok and "still answers" in v.message


CELLS = {"cell1": ["10.244.16.2"], "cell2": ["10.244.16.6"]}


def test_placement_allowed_and_wrong_cell():
    assert placement(STEP, "s", {0: "10.244.16.2", 1: "10.244.16.2"}, CELLS, ["cell1"]).ok
    v = placement(STEP, "s", {0: "10.244.16.2", 1: "10.244.16.6"}, CELLS, ["cell1"])
    assert not v.ok and "instance 1 on 10.244.16.6 in cell2 (expected cell1)" in v.message
    v = placement(STEP, "s", {0: "10.9.9.9"}, CELLS, ["cell1", "cell2"])
    assert "no cell" in v.message
    assert not placement(STEP, "s", {}, CELLS, ["cell1"]).ok


def test_placement_checks_diego_version():
    v = placement(STEP, "s", {0: "10.244.16.6"}, CELLS, ["cell2"], {"cell2": "0.1454.0"}, {"cell2": "0.1434.0"})
    assert not v.ok and "running diego 0.1454.0 (expected 0.1434.0)" in v.message
    assert placement(STEP, "s", {0: "10.244.16.6"}, CELLS, ["cell2"], {"cell2": "0.1434.0"},
                     {"cell2": "0.1434.0"}).ok


def test_deployment_versions():
    assert deployment_versions(STEP, "cf-warden", {"cf": "220"}, {"cf": "220", "x": "1"}).ok
    v = deployment_versions(STEP, "cf-warden", {"cf": "231", "etcd": "36"}, {"cf": "220"})
    assert "cf: expected 231, saw 220" in v.message and "etcd: expected 36, saw absent" in v.message


def test_missing_uploads_lists_everything_missing():
    v = missing_uploads("preflight", [("cf", "220"), ("diego", "0.1434.0"), ("etcd", "36")], [("cf", "220")],
                        [("stem", "latest")], [])
    assert not v.ok
    assert "release diego/0.1434.0" in v.message and "release etcd/36" in v.message
    assert "stemcell stem/latest" in v.message
    assert missing_uploads("p", [("cf", "220")], [("cf", "220")], [("stem", "latest")], [("stem", "2776")]).ok
    assert not missing_uploads("p", [], [], [("stem", "3000")], [("stem", "2776")]).ok


def test_no_existing_deployments():
    assert no_existing_deployments("p", ["cf-warden"], ["other"]).ok
    v = no_existing_deployments("p", ["cf-warden", "cf-warden-diego-cell1"], ["cf-warden-diego-cell1", "x"])
    assert not v.ok and "cf-warden-diego-cell1" in v.message and "never deletes" in v.message


def test_budget_with_fake_clock():
    t = [0.0]
    b = Budget(1.0, 0.25, clock=lambda: t[0], sleeper=lambda d: t.__setitem__(0, t[0] + d))
    n = 0
    while b.sleep():
        n += 1
    assert n == 4 and b.expired


# ------------------------------------------------------------------ orchestration with fakes


class FakePlatform:
    """A tiny CF + router in memory: apps with instances behind a round-robin router that,
    like the gorouter of cf v220/v231, knows no X-CF-APP-INSTANCE."""

    def __init__(self) -> None:
        self.apps: dict[str, dict] = {}
        self.deleted_routes: list[str] = []
        self.logs: dict[str, list[Line]] = {}
        self.crash: set[tuple[str, int]] = set()
        self.rr = 0
        self.drop_logs = False
        self.ssh_exit = 0
        self.wrong_index_ssh = False
        self.info_calls = 0
        self.stale_after_scale_down = 0

    # cf client surface
    def push(self, name, app_dir, space_guid, instances=1, enable_ssh=True, memory=64):
        guid = f"guid-{name}"
        self.apps[guid] = {"name": name, "n": instances, "route": True}
        return {"guid": guid, "name": name}

    def app_url(self, app):
        return f"http://{app['name']}.bosh-lite.com"

    def routes(self, guid):
        return [{"guid": f"route-{guid}"}]

    def instances(self, guid):
        a = self.apps[guid]
        return {i: ("CRASHED" if (guid, i) in self.crash else "RUNNING") for i in range(a["n"])}

    def stats(self, guid):
        return {i: {"host": "10.244.16.2", "port": 6000 + i} for i in range(self.apps[guid]["n"])}

    def scale(self, guid, n):
        if n < self.apps[guid]["n"]:
            self.stale_after_scale_down = 2
        self.apps[guid]["n"] = n

    def info(self):
        self.info_calls += 1
        return {"app_ssh_endpoint": "ssh.bosh-lite.com:2222", "app_ssh_host_key_fingerprint": "aa:bb"}

    def ssh_code(self):
        return "code"

    def delete_route(self, rg):
        self.deleted_routes.append(rg)
        for guid in self.apps:
            if rg == f"route-{guid}":
                self.apps[guid]["route"] = False

    def delete_app(self, guid):
        self.apps[guid]["route"] = False
        self.apps[guid]["n"] = 0

    # router
    def http(self, url, headers=None):
        host = url.split("//")[1].split(".")[0]
        path = "/" + url.split("//")[1].split("/", 1)[1] if "/" in url.split("//")[1] else "/"
        app = next((g for g, a in self.apps.items() if a["name"] == host and a["route"]), None)
        if app is None:
            return FetchResult(404, {"X-Cf-Routererror": "unknown_route"}, "")
        n = self.apps[app]["n"]
        # right after a scale-down the router still knows the removed instance for a while
        pool = n + 1 if self.stale_after_scale_down else n
        idx = self.rr % max(pool, 1)
        self.rr += 1
        if self.stale_after_scale_down:
            self.stale_after_scale_down -= 1
        if (app, idx) in self.crash:
            return FetchResult(502, {"X-Cf-Routererror": "endpoint_failure"}, "")
        if path == "/env":
            return FetchResult(200, {}, json.dumps({"CF_INSTANCE_INDEX": str(idx), "CF_INSTANCE_GUID": f"{app}-{idx}"}))
        if path == "/id":
            return FetchResult(200, {}, f"{app}-{idx}")
        if path.startswith("/log/"):
            nonce = path.split("/log/")[1]
            if not self.drop_logs:
                self.logs.setdefault(app, []).append(Line(f"nonce {nonce} index {idx}", "APP/PROC/WEB", str(idx)))
            return FetchResult(200, {}, "ok")
        return FetchResult(200, {}, f"probe {host} instance {idx}")

    def recent_logs(self, cf, guid):
        return list(self.logs.get(guid, []))

    def ssh_exec(self, endpoint, fingerprint, user, password, command, resolver, timeout):
        idx = int(user.rsplit("/", 1)[1])
        marker = command.split("echo ")[2].split(";")[0].strip()
        shown = 1 - idx if self.wrong_index_ssh else idx
        return Ssh(self.ssh_exit, f"index={shown}\n{marker}\n", marker)


@pytest.fixture
def fast_budgets(monkeypatch):
    """Shrink every retry budget so failing checks end in milliseconds."""
    orig = Budget.__init__

    def init(self, seconds, period=0.2, clock=checks.time.monotonic, sleeper=checks.time.sleep):
        orig(self, min(seconds, 0.3), min(period, 0.01), clock, sleeper)

    monkeypatch.setattr(Budget, "__init__", init)


def run_smoke(p: FakePlatform, **kw):
    return smoke_test(p, p.recent_logs, p.ssh_exec, step=STEP, space_guid="s", app_dir=Path("."),
                      http=p.http, timeout=5, name="smoke-x", **kw)


def test_smoke_passes_and_cleans_up(fast_budgets):
    p = FakePlatform()
    res = run_smoke(p)
    assert [v.check for v in res.verdicts] == ["instances running", "instances routable", "logs visible",
                                               "ssh", "ssh", "route removed"]
    assert all(v.ok for v in res.verdicts)
    assert p.deleted_routes == ["route-guid-smoke-x"] and p.apps["guid-smoke-x"]["n"] == 0


def _env(index: int) -> FetchResult:
    return FetchResult(200, {}, json.dumps({"CF_INSTANCE_INDEX": str(index), "CF_INSTANCE_GUID": f"g-{index}"}))


def test_reach_instances_collects_distinct_indices_by_round_robin():
    turn = iter(range(1000))
    sent: list[dict] = []

    def http(url, headers=None):
        sent.append(dict(headers or {}))
        return _env(next(turn) % 3)

    got = reach_instances(http, "http://a.bosh-lite.com", 3, Budget(5, 0.001))
    assert got.instances == {0: "g-0", 1: "g-1", 2: "g-2"} and got.missing == []
    assert got.attempts == 3 and got.answers == {0: 1, 1: 1, 2: 1}
    assert all("X-CF-APP-INSTANCE" not in h for h in sent)  # a header the era's router never knew


def test_reach_instances_survives_interleaved_traffic():
    rng = random.Random(7)
    got = reach_instances(lambda url, headers=None: _env(rng.randrange(2)), "http://a", 2, Budget(5, 0.001))
    assert got.missing == [] and got.attempts <= max_requests_for(2)


def test_a_router_stuck_on_one_instance_fails_after_a_bounded_number_of_requests():
    calls = []

    def http(url, headers=None):
        calls.append(url)
        return _env(0)

    got = reach_instances(http, "http://a", 2, Budget(60, 0.001))
    assert got.missing == [1]
    assert len(calls) == got.attempts == max_requests_for(2)  # bounded: not until the 60 s budget
    verdict = instances_routable(STEP, "A0", got.instances, 2, got.attempts, got.answers)
    assert not verdict.ok
    assert verdict.message == ("app A0: instance(s) [1] never answered through the router (expected 2 routable, "
                               f"reached [0] in {got.attempts} requests; answers per instance: #0: {got.attempts})")


def test_smoke_fails_naming_the_instance_the_router_never_reached(fast_budgets):
    p = FakePlatform()
    plain = p.http

    def http(url, headers=None):
        if url.endswith("/env"):
            return _env(0)
        return plain(url, headers)

    p.http = http
    with pytest.raises(CheckFailed, match=r"instances routable FAILED: app smoke-x: instance\(s\) \[1\] never answered"):
        run_smoke(p)
    assert p.apps["guid-smoke-x"]["n"] == 0  # deleted all the same


@pytest.mark.parametrize("breakage,expected", [
    ("crash", "instance 1 is CRASHED"),
    ("logs", "no log line"),
    ("ssh_exit", "exit status 1"),
    ("ssh_index", "lacks 'index=0'"),
])
def test_smoke_failures_are_named_and_app_still_deleted(fast_budgets, breakage, expected):
    p = FakePlatform()
    if breakage == "crash":
        orig = p.push

        def push(*a, **k):
            app = orig(*a, **k)
            p.crash.add((app["guid"], 1))
            return app

        p.push = push
    elif breakage == "logs":
        p.drop_logs = True
    elif breakage == "ssh_exit":
        p.ssh_exit = 1
    elif breakage == "ssh_index":
        p.wrong_index_ssh = True
    with pytest.raises(CheckFailed) as info:
        run_smoke(p)
    assert expected in str(info.value) and "[upgrade D3]" in str(info.value)
    assert p.apps["guid-smoke-x"]["n"] == 0 and p.deleted_routes


def test_smoke_placement_hook_failure(fast_budgets):
    p = FakePlatform()

    def hook(name, hosts):
        return placement(STEP, name, hosts, CELLS, ["cell2"])

    with pytest.raises(CheckFailed, match="expected cell2"):
        run_smoke(p, placement_hook=hook)


def test_scale_check_up_and_down(fast_budgets):
    p = FakePlatform()
    app = p.push("A0", ".", "s", instances=1)
    verdicts = scale_check(p, p.http, step=STEP, app=app, timeout=5)
    assert [v.check for v in verdicts] == ["instances running", "instances routable", "scale down"]
    assert p.apps[app["guid"]]["n"] == 1


def test_scale_check_fails_when_second_instance_crashes(fast_budgets):
    p = FakePlatform()
    app = p.push("A0", ".", "s", instances=1)
    p.crash.add((app["guid"], 1))
    with pytest.raises(CheckFailed, match="instance 1 is CRASHED"):
        scale_check(p, p.http, step=STEP, app=app, timeout=5)


class FakeDirector:
    def __init__(self, ips, versions):
        self.ips, self.versions = ips, versions

    def instances(self, dep):
        return [{"job": "cell", "index": 0, "ips": self.ips[dep]}]

    def deployments(self):
        return [{"name": d, "releases": [{"name": "diego", "version": v}]} for d, v in self.versions.items()]


def test_placement_check_uses_director_ips_and_versions():
    p = FakePlatform()
    app = p.push("s", ".", "x", instances=2)  # stats say 10.244.16.2 (cell1)
    d = FakeDirector(CELLS, {"cell1": "0.1454.0", "cell2": "0.1434.0"})
    v = checks.placement_check(p, d, step=STEP, app=app, cells=["cell1", "cell2"], allowed=["cell1"],
                               expected_diego={"cell1": "0.1454.0"})
    assert v.ok
    v = checks.placement_check(p, d, step=STEP, app=app, cells=["cell1", "cell2"], allowed=["cell2"])
    assert not v.ok and "expected cell2" in v.message
    # on the allowed cell, but that cell runs the wrong Diego version
    v = checks.placement_check(p, d, step=STEP, app=app, cells=["cell1", "cell2"], allowed=["cell1"],
                               expected_diego={"cell1": "0.1434.0"})
    assert not v.ok and "running diego 0.1454.0 (expected 0.1434.0)" in v.message
