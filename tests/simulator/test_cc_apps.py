"""CC v2 apps: create/update/delete, bits, staging via Diego, desired LRPs, instances, stats,
events, ssh access, nsync semantics (wire-contracts §4.4-4.8)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from simulator.cloudcontroller import attach
from tests.simulator.test_cc_fakes import (
    Api,
    FakeDiego,
    _route,
    assert_cc_error,
    make_world,
    wait_for,
    zip_bytes,
)
from tests.world_doubles import RecordingLogs


@pytest.fixture
def api(tmp_path: Path) -> Api:
    fw = make_world(tmp_path)
    attach(fw.world)
    fw.world.components["logs"] = RecordingLogs()
    return Api(fw)



def diego(api: Api) -> FakeDiego:
    return api.fw.world.components["diego"]


def create_app(api: Api, space_guid: str, name: str = "acc-app", **extra: Any) -> dict[str, Any]:
    return api.ok("POST", "/v2/apps", {"name": name, "space_guid": space_guid, "memory": 64,
                                       "instances": 1, "diego": True, "enable_ssh": True, **extra}, 201)


def upload(api: Api, app_guid: str, data: bytes | None = None, resources: str | None = "[]") -> Any:
    form: dict[str, Any] = {}
    if resources is not None:
        form["resources"] = resources
    if data is not None:
        form["application"] = (__import__("io").BytesIO(data), "application.zip", "application/zip")
    return api.client.put(f"/v2/apps/{app_guid}/bits?async=true", data=form,
                          headers={"Authorization": f"bearer {api.token}"}, content_type="multipart/form-data")


def pushed(api: Api, instances: int = 1) -> tuple[str, str, str]:
    """An app with a mapped route, uploaded, started and staged: (space, app, route) guids."""
    _, space_guid = api.org_space()
    app_guid = create_app(api, space_guid, instances=instances)["metadata"]["guid"]
    resp, _ = _route(api, space_guid)
    route_guid = resp.get_json()["metadata"]["guid"]
    api.ok("PUT", f"/v2/apps/{app_guid}/routes/{route_guid}", None, 201)
    job = upload(api, app_guid, zip_bytes()).get_json()
    assert api.ok("GET", job["metadata"]["url"])["entity"]["status"] == "finished"
    api.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STARTED"}, 201)
    wait_for(lambda: api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["package_state"] == "STAGED")
    api.cc.bridge.wait_idle()
    return space_guid, app_guid, route_guid


def test_create_app_entity(api: Api) -> None:
    _, space_guid = api.org_space()
    resp = api.call("POST", "/v2/apps", {"name": "acc-app", "space_guid": space_guid, "memory": 64,
                                         "diego": True, "enable_ssh": True})
    assert resp.status_code == 201
    app = resp.get_json()
    guid = app["metadata"]["guid"]
    assert resp.headers["Location"] == f"/v2/apps/{guid}"
    e = app["entity"]
    assert (e["name"], e["memory"], e["instances"], e["state"], e["package_state"]) == \
        ("acc-app", 64, 1, "STOPPED", "PENDING")
    assert e["diego"] is True and e["enable_ssh"] is True and e["health_check_type"] == "port"
    assert e["routes_url"] == f"/v2/apps/{guid}/routes" and e["space_url"] == f"/v2/spaces/{space_guid}"
    assert_cc_error(api.call("POST", "/v2/apps", {"name": "acc-app", "space_guid": space_guid}),
                    400, 100002, "CF-AppNameTaken")
    assert_cc_error(api.call("POST", "/v2/apps", {"name": "x", "space_guid": space_guid, "memory": 0}),
                    400, 100006, "CF-AppMemoryInvalid")
    assert_cc_error(api.call("POST", "/v2/apps", {"space_guid": space_guid}), 400, 100001, "CF-AppInvalid")
    assert_cc_error(api.call("GET", "/v2/apps/missing"), 404, 100004, "CF-AppNotFound")


def test_app_defaults_come_from_cc_properties(api: Api) -> None:
    _, space_guid = api.org_space()
    e = api.ok("POST", "/v2/apps", {"name": "d", "space_guid": space_guid}, 201)["entity"]
    assert e["memory"] == 256  # cc.default_app_memory
    assert e["diego"] is True  # cc.default_to_diego_backend
    assert e["enable_ssh"] is True  # allow_app_ssh_access && space.allow_ssh


def test_enable_ssh_refused_when_globally_disallowed(tmp_path: Path) -> None:
    fw = make_world(tmp_path, allow_ssh=False)
    attach(fw.world)
    api = Api(fw)
    _, space_guid = api.org_space()
    assert api.ok("POST", "/v2/apps", {"name": "d", "space_guid": space_guid}, 201)["entity"]["enable_ssh"] is False
    resp = api.call("POST", "/v2/apps", {"name": "e", "space_guid": space_guid, "enable_ssh": True})
    assert_cc_error(resp, 400, 10004, "CF-InvalidRequest")
    assert resp.get_json()["description"] == "enable_ssh must be false due to global allow_ssh setting"


def test_list_apps_with_filters(api: Api) -> None:
    org_guid, space_guid = api.org_space()
    create_app(api, space_guid, "a1")
    create_app(api, space_guid, "a2")
    assert api.ok("GET", f"/v2/apps?q=name:a1&q=space_guid:{space_guid}")["total_results"] == 1
    assert api.ok("GET", f"/v2/apps?q=organization_guid:{org_guid}")["total_results"] == 2
    legacy = api.ok("GET", f"/v2/spaces/{space_guid}/apps?q=name:a2&inline-relations-depth=1")
    assert legacy["resources"][0]["entity"]["space"]["metadata"]["guid"] == space_guid
    assert legacy["resources"][0]["entity"]["routes"] == []


def test_start_without_bits_is_150001(api: Api) -> None:
    _, space_guid = api.org_space()
    guid = create_app(api, space_guid)["metadata"]["guid"]
    assert_cc_error(api.call("PUT", f"/v2/apps/{guid}", {"state": "STARTED"}), 400, 150001,
                    "CF-AppPackageInvalid")
    assert api.ok("GET", f"/v2/apps/{guid}")["entity"]["state"] == "STOPPED"


def test_bits_upload_needs_resources_and_a_zip(api: Api) -> None:
    _, space_guid = api.org_space()
    guid = create_app(api, space_guid)["metadata"]["guid"]
    assert_cc_error(upload(api, guid, zip_bytes(), resources=None), 400, 160001, "CF-AppBitsUploadInvalid")
    job = upload(api, guid, b"not a zip")
    assert job.status_code == 201
    details = api.ok("GET", job.get_json()["metadata"]["url"])["entity"]
    assert details["status"] == "failed"
    assert details["error_details"]["code"] == 160001
    assert api.ok("GET", f"/v2/apps/{guid}")["entity"]["package_state"] == "FAILED"
    sync = api.client.put(f"/v2/apps/{guid}/bits", data={"resources": "[]"},
                          headers={"Authorization": f"bearer {api.token}"}, content_type="multipart/form-data")
    assert sync.status_code == 201 and sync.get_json() == {}


def test_push_flow_stages_and_desires_an_lrp(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    app = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]
    assert app["state"] == "STARTED" and app["package_state"] == "STAGED"
    assert app["detected_buildpack"] == "python" and app["detected_start_command"] == "python app.py"
    pg = f"{app_guid}-{app['version']}"
    lrp = diego(api).lrps[pg]
    assert lrp["instances"] == 1 and lrp["routes"] == ["acc-app.bosh-lite.com"] and lrp["memory_mb"] == 64
    assert '"application_name": "acc-app"' in lrp["env"]["VCAP_APPLICATION"]
    stg = [ln for ln in api.fw.world.components["logs"].lines if ln[1] == "STG"]
    assert stg and stg[0][0] == app_guid and "Downloading app package" in stg[0][3]
    instances = api.ok("GET", f"/v2/apps/{app_guid}/instances")
    assert instances["0"]["state"] == "RUNNING" and instances["0"]["uptime"] >= 4


def test_staging_failure_sets_reason_and_stops_the_app(api: Api) -> None:
    diego(api).fail_staging = True
    _, space_guid = api.org_space()
    guid = create_app(api, space_guid)["metadata"]["guid"]
    upload(api, guid, zip_bytes())
    api.ok("PUT", f"/v2/apps/{guid}", {"state": "STARTED"}, 201)
    wait_for(lambda: api.ok("GET", f"/v2/apps/{guid}")["entity"]["package_state"] == "FAILED")
    e = api.ok("GET", f"/v2/apps/{guid}")["entity"]
    assert e["staging_failed_reason"] == "NoAppDetectedError" and e["state"] == "STOPPED"
    assert_cc_error(api.call("GET", f"/v2/apps/{guid}/instances"), 400, 170003, "CF-NoAppDetectedError")
    assert not diego(api).lrps


def test_instances_while_staging_and_when_stopped(api: Api) -> None:
    diego(api).stage_delay = 0.3
    _, space_guid = api.org_space()
    guid = create_app(api, space_guid)["metadata"]["guid"]
    assert_cc_error(api.call("GET", f"/v2/apps/{guid}/instances"), 400, 220001, "CF-InstancesError")
    assert_cc_error(api.call("GET", f"/v2/apps/{guid}/stats"), 400, 200003, "CF-AppStoppedStatsError")
    upload(api, guid, zip_bytes())
    api.ok("PUT", f"/v2/apps/{guid}", {"state": "STARTED"}, 201)
    assert api.ok("GET", f"/v2/apps/{guid}")["entity"]["package_state"] == "PENDING"
    assert_cc_error(api.call("GET", f"/v2/apps/{guid}/instances"), 400, 170002, "CF-NotStaged")
    wait_for(lambda: api.ok("GET", f"/v2/apps/{guid}")["entity"]["package_state"] == "STAGED")


def test_instances_503_when_bbs_is_down(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    api.fw.stop("database")
    assert_cc_error(api.call("GET", f"/v2/apps/{app_guid}/instances"), 503, 220002, "CF-InstancesUnavailable")


def test_scale_updates_the_lrp_and_fills_down(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    version = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"]
    api.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 2}, 201)
    pg = f"{app_guid}-{version}"
    assert ("update", (pg, 2, None)) in diego(api).calls
    assert api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"] == version
    assert sorted(api.ok("GET", f"/v2/apps/{app_guid}/instances")) == ["0", "1"]
    diego(api).lrps[pg]["instances"] = 1  # the second instance is not reported yet
    assert api.ok("GET", f"/v2/apps/{app_guid}/instances")["1"] == {"state": "DOWN", "uptime": 0}


def test_enable_ssh_change_while_started_is_a_new_version(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    old = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"]
    new = api.ok("PUT", f"/v2/apps/{app_guid}", {"enable_ssh": False}, 201)["entity"]["version"]
    assert new != old
    assert f"{app_guid}-{new}" in diego(api).lrps
    assert f"{app_guid}-{old}" not in diego(api).lrps
    assert ("remove", f"{app_guid}-{old}") in diego(api).calls


def test_stop_removes_and_start_desires_without_restaging(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    api.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STOPPED"}, 201)
    assert not diego(api).lrps
    api.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STARTED"}, 201)
    assert len(diego(api).lrps) == 1
    assert [c for c in diego(api).calls if c[0] == "stage"] == [("stage", app_guid)]


def test_stats_report_cell_ip_and_port(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    stats = api.ok("GET", f"/v2/apps/{app_guid}/stats")
    s = stats["0"]
    assert s["state"] == "RUNNING"
    assert s["stats"]["host"] == "10.244.16.6" and s["stats"]["port"] == 61000
    assert s["stats"]["uris"] == ["acc-app.bosh-lite.com"]


def test_map_and_unmap_routes_both_url_forms(api: Api) -> None:
    space_guid, app_guid, route_guid = pushed(api)
    pg = next(iter(diego(api).lrps))
    resp, _ = _route(api, space_guid, host="second")
    second = resp.get_json()["metadata"]["guid"]
    api.ok("PUT", f"/v2/routes/{second}/apps/{app_guid}", None, 201)
    assert sorted(diego(api).lrps[pg]["routes"]) == ["acc-app.bosh-lite.com", "second.bosh-lite.com"]
    assert api.ok("GET", f"/v2/apps/{app_guid}/routes")["total_results"] == 2
    assert api.ok("GET", f"/v2/routes/{second}/apps")["resources"][0]["metadata"]["guid"] == app_guid
    api.ok("DELETE", f"/v2/apps/{app_guid}/routes/{route_guid}", None, 201)
    api.ok("DELETE", f"/v2/routes/{second}/apps/{app_guid}", None, 201)
    assert diego(api).lrps[pg]["routes"] == []
    assert api.ok("GET", f"/v2/apps/{app_guid}/routes")["total_results"] == 0


def test_summary_and_space_summary(api: Api) -> None:
    space_guid, app_guid, route_guid = pushed(api)
    summary = api.ok("GET", f"/v2/apps/{app_guid}/summary")
    assert summary["guid"] == app_guid and summary["running_instances"] == 1
    assert summary["routes"][0]["guid"] == route_guid
    assert summary["routes"][0]["domain"]["name"] == "bosh-lite.com"
    assert summary["available_domains"][0]["name"] == "bosh-lite.com"
    space = api.ok("GET", f"/v2/spaces/{space_guid}/summary")
    assert space["apps"][0]["urls"] == ["acc-app.bosh-lite.com"]


def test_events_are_recorded(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    events = api.ok("GET", f"/v2/events?q=actee:{app_guid}")
    types = [r["entity"]["type"] for r in events["resources"]]
    assert types[:2] == ["audit.app.create", "audit.app.update"]
    update = events["resources"][1]["entity"]
    assert update["metadata"]["request"] == {"state": "STARTED"}
    assert update["actor_name"] == "admin" and update["actee_name"] == "acc-app"
    assert api.ok("GET", f"/v2/apps/{app_guid}/events")["total_results"] == len(types)
    api.cc.record_event(app_guid, "app.crash", {"index": 0, "exit_status": 1})
    assert api.ok("GET", "/v2/events?q=type:app.crash")["total_results"] == 1


def test_ssh_access_internal_endpoint(api: Api) -> None:
    space_guid, app_guid, _ = pushed(api)
    version = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"]
    body = api.ok("GET", f"/internal/apps/{app_guid}/ssh_access/0")
    assert body == {"process_guid": f"{app_guid}-{version}"}
    assert api.cc.ssh_access(api.token, app_guid, 0) == f"{app_guid}-{version}"
    assert api.ok("GET", "/v2/events?q=type:audit.app.ssh-authorized")["total_results"] == 2
    with pytest.raises(PermissionError):
        api.cc.ssh_access("bad-token", app_guid, 0)
    with pytest.raises(PermissionError):
        api.cc.ssh_access(api.token, app_guid, 5)
    api.ok("PUT", f"/v2/spaces/{space_guid}", {"allow_ssh": False}, 201)
    assert_cc_error(api.call("GET", f"/internal/apps/{app_guid}/ssh_access/0"), 400, 10004, "CF-InvalidRequest")


def test_delete_app_removes_lrp_and_route_mapping(api: Api) -> None:
    _, app_guid, route_guid = pushed(api)
    resp = api.call("DELETE", f"/v2/apps/{app_guid}?recursive=true&async=true")
    assert resp.status_code == 202
    assert api.ok("GET", resp.get_json()["metadata"]["url"])["entity"]["status"] == "finished"
    assert not diego(api).lrps
    assert api.call("GET", f"/v2/apps/{app_guid}").status_code == 404
    assert api.ok("GET", f"/v2/routes/{route_guid}/apps")["total_results"] == 0
    assert api.ok("GET", "/v2/events?q=type:audit.app.delete-request")["total_results"] == 1


def test_nsync_down_queues_changes_until_it_returns(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    pg = next(iter(diego(api).lrps))
    api.fw.stop("cc_bridge")
    api.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 3}, 201)
    assert diego(api).lrps[pg]["instances"] == 1
    assert api.cc.bridge.pending
    api.fw.start("cc_bridge")
    api.cc.bridge.wait_idle()
    assert diego(api).lrps[pg]["instances"] == 3
    assert not api.cc.bridge.pending


def test_bbs_down_keeps_changes_pending(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    pg = next(iter(diego(api).lrps))
    diego(api).unavailable = True
    api.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 2}, 201)
    assert api.cc.bridge.pending
    diego(api).unavailable = False
    api.fw.start("database")
    api.cc.bridge.wait_idle()
    assert diego(api).lrps[pg]["instances"] == 2


def test_desired_state_survives_a_cc_restart(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    api.fw.stop("api")
    assert api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["state"] == "STARTED"
    assert api.cc.settings.info(None)["app_ssh_oauth_client"] == "ssh-proxy"  # last deployed settings kept
    api.fw.start("api")
    assert len(diego(api).lrps) == 1


def test_new_bits_on_a_started_app_restage_into_a_new_version(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    old = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"]
    upload(api, app_guid, zip_bytes({"app.py": "print('v2')\n"}))
    wait_for(lambda: api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"] != old)
    api.cc.bridge.wait_idle()
    new = api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["version"]
    assert list(diego(api).lrps) == [f"{app_guid}-{new}"]
    assert len([c for c in diego(api).calls if c[0] == "stage"]) == 2


def test_restage_endpoint(api: Api) -> None:
    _, app_guid, _ = pushed(api)
    api.ok("POST", f"/v2/apps/{app_guid}/restage", None, 201)
    wait_for(lambda: len([c for c in diego(api).calls if c[0] == "stage"]) == 2)
    wait_for(lambda: api.ok("GET", f"/v2/apps/{app_guid}")["entity"]["package_state"] == "STAGED")
    api.cc.bridge.wait_idle()
    assert len(diego(api).lrps) == 1


def test_bulker_re_desires_what_diego_forgot(api: Api) -> None:
    pushed(api)
    fake = diego(api)
    fake.desired_lrps = lambda: [SimpleNamespace(process_guid=pg) for pg in fake.lrps]  # type: ignore[attr-defined]
    pg = next(iter(fake.lrps))
    fake.lrps.clear()  # the BBS database was recreated
    api.fw.start("database")
    api.cc.bridge.wait_idle()
    assert pg in fake.lrps and fake.lrps[pg]["instances"] == 1
