"""What cf CLI 6.53 reads for `cf app` and the `cf push` summary (wire-contracts §7): read-only
v3 views of v2 apps (`/v3/apps`, processes, process stats, current droplet), and the v2
`DELETE /v2/apps/:guid/instances/:index` restart of one instance through the real Diego
runtime (HTTP requests through CC's WSGI app)."""

from __future__ import annotations

from typing import Any

from tests.simulator.test_cc_diego import Rig, push, rig, running  # noqa: F401  (rig: fixture)
from tests.simulator.test_cc_fakes import assert_cc_error, wait_for


def v3_error(resp: Any, status: int, title: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["errors"][0]
    assert error["title"] == title and error["detail"]
    return error


def test_v3_app_lookup_by_name_and_space(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig)
    space_guid = rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]["space_guid"]
    found = rig.ok("GET", f"/v3/apps?names=probe&space_guids={space_guid}")
    assert found["pagination"]["total_results"] == 1
    app = found["resources"][0]
    assert (app["guid"], app["name"], app["state"]) == (app_guid, "probe", "STARTED")
    assert app["lifecycle"]["type"] == "buildpack" and app["lifecycle"]["data"]["stack"] == "cflinuxfs2"
    assert app["relationships"]["space"]["data"]["guid"] == space_guid
    assert rig.ok("GET", f"/v3/apps?names=other&space_guids={space_guid}")["resources"] == []
    assert rig.ok("GET", "/v3/apps?space_guids=no-such-space")["resources"] == []
    assert rig.ok("GET", f"/v3/apps/{app_guid}")["name"] == "probe"
    v3_error(rig.call("GET", "/v3/apps/nope"), 404, "CF-ResourceNotFound")
    assert "apps" in rig.client.get("/v3").get_json()["links"]

    rig.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STOPPED"}, 201)
    assert rig.ok("GET", f"/v3/apps/{app_guid}")["state"] == "STOPPED"


def test_v3_processes_and_stats_follow_the_v2_app(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig, instances=2)
    processes = rig.ok("GET", f"/v3/apps/{app_guid}/processes")["resources"]
    assert len(processes) == 1
    web = processes[0]
    assert (web["type"], web["instances"], web["memory_in_mb"]) == ("web", 2, 64)
    assert web["command"]  # the detected start command
    assert rig.ok("GET", f"/v3/processes/{web['guid']}")["type"] == "web"
    assert rig.ok("GET", f"/v3/apps/{app_guid}/processes?types=worker")["resources"] == []

    stats = rig.ok("GET", f"/v3/processes/{web['guid']}/stats")["resources"]
    v2 = rig.ok("GET", f"/v2/apps/{app_guid}/stats")
    assert [s["index"] for s in stats] == [0, 1]
    for s in stats:
        assert s["type"] == "web" and s["state"] == "RUNNING"
        assert s["host"] == v2[str(s["index"])]["stats"]["host"]
        assert s["mem_quota"] == 64 * 1024 * 1024
        assert isinstance(s["uptime"], int) and isinstance(s["usage"]["cpu"], float)
        assert s["instance_ports"][0]["external"] == v2[str(s["index"])]["stats"]["port"]

    rig.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 1}, 201)
    running(rig, app_guid, 1)
    assert [s["index"] for s in rig.ok("GET", f"/v3/processes/{app_guid}/stats")["resources"]] == [0]
    rig.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STOPPED"}, 201)
    stopped = rig.ok("GET", f"/v3/processes/{app_guid}/stats")["resources"]
    assert [(s["index"], s["state"]) for s in stopped] == [(0, "DOWN")]
    v3_error(rig.call("GET", "/v3/processes/nope/stats"), 404, "CF-ResourceNotFound")


def test_v3_current_droplet_only_once_staged(rig: Rig) -> None:  # noqa: F811
    _, space_guid = rig.org_space("o2", "s2")
    app_guid = rig.ok("POST", "/v2/apps", {"name": "unstaged", "space_guid": space_guid, "diego": True},
                      201)["metadata"]["guid"]
    v3_error(rig.call("GET", f"/v3/apps/{app_guid}/droplets/current"), 404, "CF-ResourceNotFound")

    staged = push(rig)
    droplet = rig.ok("GET", f"/v3/apps/{staged}/droplets/current")
    assert droplet["state"] == "STAGED" and droplet["stack"] == "cflinuxfs2"
    assert droplet["process_types"]["web"]
    assert droplet["relationships"]["app"]["data"]["guid"] == staged


def test_delete_instance_restarts_only_that_index(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig, instances=2)
    diego = rig.world.components["diego"]
    process_guid = rig.cc.app(app_guid).process_guid
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


def test_v3_delete_process_instance(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig)
    diego = rig.world.components["diego"]
    process_guid = rig.cc.app(app_guid).process_guid
    before = diego.instances(process_guid)[0].instance_guid
    resp = rig.call("DELETE", f"/v3/apps/{app_guid}/processes/web/instances/0")
    assert resp.status_code == 204
    wait_for(lambda: (lambda a: a.instance_guid != before and a.state == "RUNNING")(
        diego.instances(process_guid)[0]), 20)
    assert v3_error(rig.call("DELETE", f"/v3/apps/{app_guid}/processes/web/instances/1"), 404,
                    "CF-ResourceNotFound")["detail"] == "Instance not found"
    assert v3_error(rig.call("DELETE", f"/v3/apps/{app_guid}/processes/worker/instances/0"), 404,
                    "CF-ResourceNotFound")["detail"] == "Process not found"


def test_delete_instance_needs_nsync(rig: Rig) -> None:  # noqa: F811
    app_guid = push(rig)
    nsync = rig.brain["nsync"]  # type: ignore[attr-defined]
    rig.director.down(nsync)
    try:
        assert_cc_error(rig.call("DELETE", f"/v2/apps/{app_guid}/instances/0"), 503, 170015, "CF-RunnerUnavailable")
    finally:
        rig.director.start(nsync)
