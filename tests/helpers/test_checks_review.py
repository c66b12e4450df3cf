"""Checks that must not pass vacuously: scale-down proof, route deletion, placement table.

These complete test_checks.py with the cases a review found uncovered: a removed instance
that stats still list, a scale-down "proved" while nothing answers at all, a removed
instance the router still round-robins to, and a smoke app whose route was never deleted.
"""

from __future__ import annotations

import re

import pytest
from fakes import FakeCC
from test_checks import STEP, fast_budgets, run_smoke  # noqa: F401 (fixture)

from helpers.checks import scale_check
from helpers.http_probe import FetchResult
from helpers.verdicts import CheckFailed

pytestmark = pytest.mark.usefixtures("fast_budgets")  # retry budgets end in milliseconds


def push_a0(p: FakeCC):
    return p.push("A0", ".", "s", instances=1)


def test_scale_down_fails_while_stats_still_list_the_removed_instance():
    p = FakeCC()
    app = push_a0(p)
    p.stats = lambda guid: {i: {"host": "10.244.16.2", "port": 6000 + i} for i in range(2)}  # stale CC stats
    with pytest.raises(CheckFailed) as info:
        scale_check(p, p.http, step=STEP, app=app, timeout=5)
    assert "[upgrade D3] scale down FAILED: app A0: instance 1 still in stats [0, 1]" in str(info.value)


def test_scale_down_is_not_proved_when_nothing_answers():
    p = FakeCC()
    app = push_a0(p)
    orig_scale = p.scale

    def scale(guid, n):
        orig_scale(guid, n)
        if n == 1:  # the route breaks as the app scales down: no answer proves nothing
            p.route_table.clear()

    p.scale = scale
    with pytest.raises(CheckFailed) as info:
        scale_check(p, p.http, step=STEP, app=app, timeout=5)
    msg = str(info.value)
    assert "after scaling 2 -> 1 no request answered through the router" in msg and "unknown_route" in msg


def test_scale_down_fails_when_the_router_still_round_robins_to_the_removed_instance():
    p = FakeCC()
    app = push_a0(p)
    plain = p.http
    turn = {"n": 0}

    def http(url, headers=None):
        if "/id" in url and p.apps[app.guid]["entity"]["instances"] == 1:  # the router still holds the old endpoint
            turn["n"] += 1
            if turn["n"] % 2:
                return FetchResult(200, {}, f"{app.guid}-1")
        return plain(url, headers)

    with pytest.raises(CheckFailed, match=r"instance 1 \(guid-A0-1\) still answers through the router"):
        scale_check(p, http, step=STEP, app=app, timeout=5)


@pytest.mark.parametrize("breakage,expected", [
    ("list_fails", "listing its routes failed (CC down)"),
    ("no_route", "it had no route to delete"),
    ("delete_fails", "deleting route route-guid-smoke-x failed: CC down"),
])
def test_smoke_fails_when_the_route_is_not_deleted(breakage, expected):
    p = FakeCC()

    def boom(*a):
        raise RuntimeError("CC down")

    if breakage == "list_fails":
        p.routes = boom
    elif breakage == "no_route":
        p.routes = lambda guid: []
    else:
        p.delete_route = boom
    with pytest.raises(CheckFailed) as info:
        run_smoke(p)
    msg = str(info.value)
    assert "[upgrade D3] route deleted FAILED: app smoke-x: expected its route deleted with it" in msg
    assert expected in msg
    assert "guid-smoke-x" not in p.apps  # the app itself is gone all the same


def test_client_errors_in_push_and_scale_name_the_step_and_app():
    p = FakeCC()

    def refuse(*a, **k):
        raise RuntimeError("CF-AppMemoryQuotaExceeded (100005)")

    p.push = refuse
    with pytest.raises(CheckFailed, match=re.escape(
            "[upgrade D3] push FAILED: app smoke-x: push of 2 instance(s) with SSH enabled failed: "
            "CF-AppMemoryQuotaExceeded (100005)")):
        run_smoke(p)
    p = FakeCC()
    app = push_a0(p)
    p.scale = refuse
    with pytest.raises(CheckFailed, match=re.escape("[upgrade D3] scale up FAILED: app A0: scaling to 2 failed")):
        scale_check(p, p.http, step=STEP, app=app, timeout=5)
