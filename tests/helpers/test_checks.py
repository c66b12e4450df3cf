"""App checks (smoke, scale): pure verdicts, and the orchestration against tests/fakes.py."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import CELL_IPS, FakeCC, FakeDirector

from helpers.checks import (
    instance_gone,
    instances_routable,
    instances_running,
    logs_visible,
    max_requests_for,
    reach_instances,
    route_gone,
    scale_check,
    smoke_test,
    ssh_ran,
)
from helpers.http_probe import FetchResult
from helpers.placement import placement, placement_check
from helpers.verdicts import Budget, CheckFailed

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


def test_budget_with_fake_clock():
    t = [0.0]
    b = Budget(1.0, 0.25, clock=lambda: t[0], sleeper=lambda d: t.__setitem__(0, t[0] + d))
    n = 0
    while b.sleep():
        n += 1
    assert n == 4 and b.expired


# ------------------------------------------------------------------ orchestration with fakes


@pytest.fixture
def fast_budgets(monkeypatch):
    """Shrink every retry budget so failing checks end in milliseconds."""
    orig = Budget.__init__

    def init(self, seconds, period=0.2, clock=time.monotonic, sleeper=time.sleep):
        orig(self, min(seconds, 0.3), min(period, 0.01), clock, sleeper)

    monkeypatch.setattr(Budget, "__init__", init)


def run_smoke(cc: FakeCC, **kw):
    return smoke_test(cc, cc.recent_logs, cc.ssh_exec, step=STEP, space_guid="s", app_dir=Path("."),
                      http=cc.http, timeout=5, name="smoke-x", **kw)


def test_smoke_passes_and_cleans_up(fast_budgets):
    cc = FakeCC()
    res = run_smoke(cc)
    assert [v.check for v in res.verdicts] == ["instances running", "instances routable", "logs visible",
                                               "ssh", "ssh", "route removed"]
    assert all(v.ok for v in res.verdicts)
    assert cc.deleted_routes == ["route-guid-smoke-x"] and "guid-smoke-x" not in cc.apps


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
    cc = FakeCC()
    plain = cc.http

    def http(url, headers=None):
        if url.endswith("/env"):
            return _env(0)
        return plain(url, headers)

    cc.http = http
    with pytest.raises(CheckFailed, match=r"instances routable FAILED: app smoke-x: instance\(s\) \[1\] never answered"):
        run_smoke(cc)
    assert "guid-smoke-x" not in cc.apps  # deleted all the same


@pytest.mark.parametrize("breakage,expected", [
    ("crash", "instance 1 is CRASHED"),
    ("logs", "no log line"),
    ("ssh_exit", "exit status 1"),
    ("ssh_index", "lacks 'index=0'"),
])
def test_smoke_failures_are_named_and_app_still_deleted(fast_budgets, breakage, expected):
    cc = FakeCC()
    if breakage == "crash":
        orig = cc.push

        def push(*a, **k):
            app = orig(*a, **k)
            cc.crash.add((app.guid, 1))
            return app

        cc.push = push
    elif breakage == "logs":
        cc.drop_logs = True
    elif breakage == "ssh_exit":
        cc.ssh_exit = 1
    elif breakage == "ssh_index":
        cc.wrong_index_ssh = True
    with pytest.raises(CheckFailed) as info:
        run_smoke(cc)
    assert expected in str(info.value) and "[upgrade D3]" in str(info.value)
    assert "guid-smoke-x" not in cc.apps and cc.deleted_routes


def test_smoke_placement_hook_failure(fast_budgets):
    cc = FakeCC()
    cells = {"cell1": [CELL_IPS["cell1"]], "cell2": [CELL_IPS["cell2"]]}

    def hook(name, hosts):
        return placement(STEP, name, hosts, cells, ["cell2"])

    with pytest.raises(CheckFailed, match="expected cell2"):
        run_smoke(cc, placement_hook=hook)


def test_scale_check_up_and_down(fast_budgets):
    cc = FakeCC()
    app = cc.push("A0", ".", "s", instances=1)
    verdicts = scale_check(cc, cc.http, step=STEP, app=app, timeout=5)
    assert [v.check for v in verdicts] == ["instances running", "instances routable", "scale down"]
    assert cc.apps[app.guid]["entity"]["instances"] == 1


def test_scale_check_fails_when_second_instance_crashes(fast_budgets):
    cc = FakeCC()
    app = cc.push("A0", ".", "s", instances=1)
    cc.crash.add((app.guid, 1))
    with pytest.raises(CheckFailed, match="instance 1 is CRASHED"):
        scale_check(cc, cc.http, step=STEP, app=app, timeout=5)


def test_placement_check_uses_director_ips_and_versions():
    cc = FakeCC()
    app = cc.push("s", ".", "x", instances=2)  # stats say 10.244.16.2 (cell1)
    d = FakeDirector(existing={"cf-warden-diego-cell1": {"diego": "0.1454.0"},
                               "cf-warden-diego-cell2": {"diego": "0.1434.0"}})
    cells = ["cf-warden-diego-cell1", "cf-warden-diego-cell2"]
    v = placement_check(cc, d, step=STEP, app=app, cells=cells, allowed=cells[:1],
                        expected_diego={cells[0]: "0.1454.0"})
    assert v.ok
    v = placement_check(cc, d, step=STEP, app=app, cells=cells, allowed=cells[1:])
    assert not v.ok and "expected cf-warden-diego-cell2" in v.message
    # on the allowed cell, but that cell runs the wrong Diego version
    v = placement_check(cc, d, step=STEP, app=app, cells=cells, allowed=cells[:1],
                        expected_diego={cells[0]: "0.1434.0"})
    assert not v.ok and "running diego 0.1454.0 (expected 0.1434.0)" in v.message
