"""The era's `/v3` over the real Diego runtime: a v2-pushed app is no v3 app but a v3
process, whose stats exist from cf v231 on; and the v2 `DELETE /v2/apps/:guid/instances/:index`
restart of one instance (HTTP requests through CC's WSGI app)."""

from __future__ import annotations

from typing import Any

from simulator.world import JobTemplate
from tests.simulator.test_cc_diego import Rig, push, rig, running  # noqa: F401  (rig: fixture)
from tests.simulator.test_cc_fakes import assert_cc_error, wait_for


def as_cf231(rig: Rig) -> None:  # noqa: F811
    """The CF step: the CC instance runs cf v231 from now on."""
    api = next(i for i in rig.director.items if i.has_template("cloud_controller_ng"))
    api.templates = [JobTemplate(t.name, t.release, "231") for t in api.templates]


def test_a_pushed_v2_app_is_no_v3_app_but_a_v3_process(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig, instances=2)
    space_guid = rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]["space_guid"]
    assert rig.ok("GET", f"/v3/apps?names=probe&space_guids={space_guid}")["resources"] == []
    assert_cc_error(rig.call("GET", f"/v3/apps/{app_guid}"), 404, 10010, "CF-ResourceNotFound")
    assert_cc_error(rig.call("GET", f"/v3/apps/{app_guid}/processes"), 404, 10000, "CF-NotFound")
    web = rig.ok("GET", f"/v3/processes/{app_guid}")
    assert (web["type"], web["instances"], web["memory_in_mb"]) == ("web", 2, 64)


def test_v3_process_stats_at_v231_follow_the_v2_stats(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig, instances=2)
    assert_cc_error(rig.call("GET", f"/v3/processes/{app_guid}/stats"), 404, 10000, "CF-NotFound")
    as_cf231(rig)
    body = rig.ok("GET", f"/v3/processes/{app_guid}/stats")
    stats, v2 = body["resources"], rig.ok("GET", f"/v2/apps/{app_guid}/stats")
    assert body["pagination"]["total_results"] == 2
    assert [s["index"] for s in stats] == [0, 1]
    for s in stats:
        assert set(s) == {"type", "index", "state", "usage", "host", "port", "uptime", "mem_quota",
                          "disk_quota", "fds_quota"}
        assert s["type"] == "web" and s["state"] == "RUNNING"
        assert (s["host"], s["port"]) == (v2[str(s["index"])]["stats"]["host"], v2[str(s["index"])]["stats"]["port"])
        assert s["mem_quota"] == 64 * 1024 * 1024
    assert_cc_error(rig.call("GET", "/v3/processes/nope/stats"), 404, 10010, "CF-ResourceNotFound")


def test_v3_terminate_restarts_one_instance_of_a_v2_app(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig)
    diego = rig.world.components["diego"]
    process_guid = rig.cc.apps.app(app_guid).process_guid
    before = diego.instances(process_guid)[0].instance_guid
    assert rig.call("DELETE", f"/v3/processes/{app_guid}/instances/0").status_code == 204
    wait_for(lambda: (lambda a: a.instance_guid != before and a.state == "RUNNING")(
        diego.instances(process_guid)[0]), 20)
    resp = rig.call("DELETE", f"/v3/processes/{app_guid}/instances/1")
    assert_cc_error(resp, 404, 10010, "CF-ResourceNotFound")
    assert resp.get_json()["description"] == "Instance not found"


def test_delete_instance_restarts_only_that_index(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig, instances=2)
    diego = rig.world.components["diego"]
    process_guid = rig.cc.apps.app(app_guid).process_guid
    before = {a.index: a.instance_guid for a in diego.instances(process_guid)}

    resp = rig.call("DELETE", f"/v2/apps/{app_guid}/instances/1")
    assert resp.status_code == 204 and resp.get_data() == b""

    def replaced() -> dict[int, Any] | None:
        now = {a.index: a for a in diego.instances(process_guid)}
        fresh = now.get(1)
        if fresh is None or fresh.instance_guid == before[1] or fresh.state != "RUNNING":
            return None
        return now
    after = wait_for(replaced, 20)
    assert after[0].instance_guid == before[0]  # the other index was left alone
    running(rig, app_guid, 2)
    crashes = [e for e in rig.ok("GET", f"/v2/apps/{app_guid}/events")["resources"]
               if e["entity"]["type"] == "app.crash"]
    assert crashes == []  # a restart is not a crash

    assert_cc_error(rig.call("DELETE", f"/v2/apps/{app_guid}/instances/2"), 400, 220001, "CF-InstancesError")
    assert_cc_error(rig.call("DELETE", f"/v2/apps/{app_guid}/instances/-1"), 400, 220001, "CF-InstancesError")
    assert_cc_error(rig.call("DELETE", "/v2/apps/nope/instances/0"), 404, 100004, "CF-AppNotFound")


def test_delete_instance_needs_nsync(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig)
    nsync = rig.brain["nsync"]  # type: ignore[attr-defined]
    rig.director.down(nsync)
    try:
        assert_cc_error(rig.call("DELETE", f"/v2/apps/{app_guid}/instances/0"), 503, 170015, "CF-RunnerUnavailable")
    finally:
        rig.director.start(nsync)
