"""The Cloud Controller of the deployed cf release, and nothing newer (docs/architecture.md,
"Era: Cloud Controller, gorouter, Loggregator"): `/v2/info` per version, no `GET /`, the
era's `/v3`, `ports` only at v231, `X-VCAP-Request-ID`, the Ruby-hash update log line."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from simulator.cloudcontroller import attach
from simulator.cloudcontroller.ruby import inspect
from simulator.world import JobTemplate
from tests.simulator.test_cc_fakes import FINGERPRINT, Api, assert_cc_error, bearer, make_world

ALWAYS = ["name", "build", "support", "version", "description", "authorization_endpoint", "token_endpoint",
          "min_cli_version", "min_recommended_cli_version", "api_version", "app_ssh_endpoint",
          "app_ssh_host_key_fingerprint", "app_ssh_oauth_client"]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Lines:
    """The `logs` component's emit(), recorded."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str, str, str]] = []

    def emit(self, app_guid: str, source_type: str, instance: str, message: str, stream: str = "OUT") -> None:
        self.lines.append((app_guid, source_type, instance, message, stream))


def make_api(tmp_path: Path, cf_version: str = "220", **kw: Any) -> tuple[Api, Lines]:
    fw = make_world(tmp_path, cf_version=cf_version, **kw)
    attach(fw.world)
    lines = Lines()
    fw.world.components["logs"] = lines
    return Api(fw), lines


def switch_cf(api: Api, version: str) -> None:
    """The CF step of the upgrade: the CC instance now runs another cf release."""
    view = api.fw.instances["api"]
    view.templates = [JobTemplate(t.name, t.release, version) for t in view.templates]


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)[0]


# ------------------------------------------------------------------ /v2/info


def test_info_at_v220_has_exactly_the_era_keys_and_bosh_lite_values(api: Api) -> None:
    info = api.client.get("/v2/info").get_json()
    assert list(info)[:13] == ALWAYS
    assert set(info) == {*ALWAYS, "routing_endpoint", "logging_endpoint", "doppler_logging_endpoint"}
    assert info["api_version"] == "2.39.0"
    assert (info["name"], info["build"], info["version"]) == ("vcap", "2222", 2)  # v220 job spec defaults
    assert info["authorization_endpoint"] == "https://login.bosh-lite.com"
    assert info["token_endpoint"] == "https://uaa.bosh-lite.com"
    assert info["app_ssh_endpoint"] == "ssh.bosh-lite.com:2222"
    assert info["app_ssh_host_key_fingerprint"] == FINGERPRINT  # MD5, 47 characters
    assert info["app_ssh_oauth_client"] == "ssh-proxy"
    assert info["routing_endpoint"] == "https://api.bosh-lite.com/routing"
    assert info["logging_endpoint"] == "wss://loggregator.bosh-lite.com:443"
    assert info["doppler_logging_endpoint"] == "wss://doppler.bosh-lite.com:4443"
    assert not [k for k in info if "log_cache" in k or "log-cache" in str(info[k])]
    with_user = api.call("GET", "/v2/info").get_json()
    assert with_user["user"] == api.cc.access.verify(api.token)["user_id"]


def test_api_version_follows_the_deployed_cf_release(api: Api) -> None:
    assert api.client.get("/v2/info").get_json()["api_version"] == "2.39.0"
    switch_cf(api, "231")
    info = api.client.get("/v2/info").get_json()
    assert info["api_version"] == "2.51.0"
    assert (info["name"], info["build"], info["version"]) == (None, "", 0)  # v231's empty defaults
    assert list(info)[:13] == ALWAYS


def test_app_ssh_keys_are_present_even_when_ssh_is_not_allowed(tmp_path: Path) -> None:
    api, _ = make_api(tmp_path, allow_ssh=False)
    info = api.client.get("/v2/info").get_json()
    assert info["app_ssh_endpoint"] == "ssh.bosh-lite.com:2222"  # if_p holds for `false` too
    assert list(info)[:13] == ALWAYS


# ------------------------------------------------------------------ what that CC did not have


@pytest.mark.parametrize("cf_version", ["220", "231"])
@pytest.mark.parametrize("path", ["/", "/v3", "/v3/", "/v3/organizations", "/v3/spaces",
                                  "/v3/apps/x/processes", "/v3/apps/x/droplets/current",
                                  "/api/v1/read/x", "/v2/nope"])
def test_the_era_has_no_root_links_and_no_newer_endpoints(tmp_path: Path, cf_version: str, path: str) -> None:
    api, _ = make_api(tmp_path, cf_version)
    resp = api.call("GET", path)
    assert_cc_error(resp, 404, 10000, "CF-NotFound")
    assert resp.get_json()["description"] == "Unknown request"
    assert re.fullmatch(UUID, resp.headers["X-VCAP-Request-ID"])


def test_request_id_extends_the_routers_id(api: Api) -> None:
    routers = str(uuid.uuid4())
    resp = api.client.get("/v2/info", headers={"X-Vcap-Request-Id": routers})
    assert re.fullmatch(re.escape(routers) + "::" + UUID, resp.headers["X-VCAP-Request-ID"])
    error = api.client.get("/v2/organizations", headers={"X-Vcap-Request-Id": "a b;c"})
    assert error.status_code == 401
    assert error.headers["X-VCAP-Request-ID"].startswith("abc::")


def push(api: Api, **body: Any) -> str:
    _, space_guid = api.org_space()
    return api.ok("POST", "/v2/apps", {"name": "probe", "space_guid": space_guid, **body}, 201)["metadata"]["guid"]


def test_v3_sees_a_v2_app_only_as_a_process(api: Api) -> None:
    guid = push(api, diego=True)
    apps = api.ok("GET", "/v3/apps?names=probe")
    assert apps["resources"] == [] and apps["pagination"]["total_results"] == 0
    assert apps["pagination"]["first"] == {"href": "/v3/apps?page=1&per_page=50"}
    assert_cc_error(api.call("GET", f"/v3/apps/{guid}"), 404, 10010, "CF-ResourceNotFound")
    process = api.ok("GET", f"/v3/processes/{guid}")
    assert set(process) == {"guid", "type", "command", "instances", "memory_in_mb", "disk_in_mb",
                            "created_at", "updated_at", "links"}
    assert (process["guid"], process["type"]) == (guid, "web")
    assert process["links"]["self"] == {"href": f"/v3/processes/{guid}"}
    assert [p["guid"] for p in api.ok("GET", "/v3/processes")["resources"]] == [guid]
    assert_cc_error(api.call("GET", "/v3/processes?names=probe"), 400, 10005, "CF-BadQueryParameter")
    assert_cc_error(api.call("GET", "/v3/processes/nope"), 404, 10010, "CF-ResourceNotFound")
    assert_cc_error(api.call("DELETE", f"/v3/processes/{guid}/instances/5"), 404, 10010, "CF-ResourceNotFound")


def test_v3_process_stats_appear_with_v231(api: Api) -> None:
    guid = push(api, diego=True)
    assert_cc_error(api.call("GET", f"/v3/processes/{guid}/stats"), 404, 10000, "CF-NotFound")
    switch_cf(api, "231")
    # a stopped app has no stats: the v2 reporter's error, in the v2 shape as v231 renders it
    assert_cc_error(api.call("GET", f"/v3/processes/{guid}/stats"), 400, 200003, "CF-AppStoppedStatsError")


def test_ports_only_at_v231_and_8080_for_diego_apps(api: Api) -> None:
    guid = push(api, diego=True)
    assert "ports" not in api.ok("GET", f"/v2/apps/{guid}")["entity"]
    api.ok("PUT", f"/v2/apps/{guid}", {"ports": [9090]}, 201)  # a v220 CC ignores what it lacks
    switch_cf(api, "231")
    assert api.ok("GET", f"/v2/apps/{guid}")["entity"]["ports"] == [8080]
    assert api.ok("PUT", f"/v2/apps/{guid}", {"ports": [8080, 9090]}, 201)["entity"]["ports"] == [8080, 9090]
    assert_cc_error(api.call("PUT", f"/v2/apps/{guid}", {"ports": ["x"]}), 400, 100001, "CF-AppInvalid")


def test_health_check_types_per_era(api: Api) -> None:
    guid = push(api, diego=True)
    assert_cc_error(api.call("PUT", f"/v2/apps/{guid}", {"health_check_type": "process"}), 400, 100001,
                    "CF-AppInvalid")
    switch_cf(api, "231")
    assert api.ok("PUT", f"/v2/apps/{guid}", {"health_check_type": "process"}, 201)["entity"][
        "health_check_type"] == "process"
    assert_cc_error(api.call("PUT", f"/v2/apps/{guid}", {"health_check_type": "http"}), 400, 100001,
                    "CF-AppInvalid")


# ------------------------------------------------------------------ CC's app log lines


def test_update_log_line_is_rubys_hash_inspect_with_censored_fields(tmp_path: Path) -> None:
    api, lines = make_api(tmp_path)
    guid = push(api, diego=True)
    api.ok("PUT", f"/v2/apps/{guid}", {"instances": 2, "command": "secret cmd",
                                       "environment_json": {"K": "v"}, "name": 'a"b', "diego": True,
                                       "health_check_timeout": None}, 201)
    assert api.call("DELETE", f"/v2/apps/{guid}").status_code == 204
    api_lines = [(source, inst, msg) for g, source, inst, msg, _ in lines.lines if g == guid]
    assert api_lines == [
        ("API", "0", f"Created app with guid {guid}"),
        ("API", "0", f'Updated app with guid {guid} ({{"instances"=>2, "command"=>"PRIVATE DATA HIDDEN", '
                     f'"environment_json"=>"PRIVATE DATA HIDDEN", "name"=>"a\\"b", "diego"=>true, '
                     f'"health_check_timeout"=>nil}})'),
        ("API", "0", f"Deleted app with guid {guid}"),
    ]
    events = api.ok("GET", f"/v2/events?q=actee:{guid}")["resources"]
    update = next(e for e in events if e["entity"]["type"] == "audit.app.update")
    assert update["entity"]["metadata"]["request"]["command"] == "PRIVATE DATA HIDDEN"


@pytest.mark.parametrize(("value", "ruby"), [
    ({"instances": 2}, '{"instances"=>2}'),
    ({"a": [1, 2.5, None, True]}, '{"a"=>[1, 2.5, nil, true]}'),
    ({"s": "x\ny\t\"\\#{y} #z"}, '{"s"=>"x\\ny\\t\\"\\\\\\#{y} #z"}'),
    ({"f": 1e20, "g": 1e-5, "h": 100.0}, '{"f"=>1.0e+20, "g"=>1.0e-05, "h"=>100.0}'),
    ({"u": "é\x01\x7f"}, '{"u"=>"é\\u0001\\u007F"}'),
    ({"n": {"m": {}}}, '{"n"=>{"m"=>{}}}'),
])
def test_ruby_inspect_matches_ruby_2(value: Any, ruby: str) -> None:
    assert inspect(value) == ruby


# ------------------------------------------------------------------ internal endpoints


def test_log_access_needs_a_token_and_an_existing_app(api: Api) -> None:
    guid = push(api)
    assert api.call("GET", f"/internal/log_access/{guid}").status_code == 200
    assert api.call("GET", "/internal/log_access/no-such-app").status_code == 404
    assert_cc_error(api.client.get(f"/internal/log_access/{guid}"), 401, 10002, "CF-NotAuthenticated")
    assert_cc_error(api.client.get(f"/internal/log_access/{guid}", headers=bearer("x.y.z")), 401, 1000,
                    "CF-InvalidAuthToken")


def test_a_cc_that_never_ran_is_the_oldest_era(tmp_path: Path) -> None:
    fw = make_world(tmp_path, cf_version="231")
    fw.stop("api")
    attach(fw.world)
    assert Client(fw.world.components["cc"].wsgi).get("/v2/info").get_json()["api_version"] == "2.39.0"
    fw.start("api")
    assert Client(fw.world.components["cc"].wsgi).get("/v2/info").get_json()["api_version"] == "2.51.0"
