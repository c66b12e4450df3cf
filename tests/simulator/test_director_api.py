"""The simulated director at the HTTP level (wire-contracts §2), for both eras.

Tests taking `d` run against the 2015 director (`sim`, bosh 1.3098.0) and against today's
(`sim_current`); tests of one era's own behaviour take that simulator directly. The facts
each asserts are in docs/architecture.md (Era: BOSH director)."""

from __future__ import annotations

import io
import itertools
import json
import re
import tarfile
import time
import uuid
from typing import Any

import pytest
import yaml

STEMCELL = "bosh-warden-boshlite-ubuntu-trusty-go_agent"


_OCTETS: dict[str, int] = {}
_NEXT = itertools.count(100)


def _octet(name: str) -> int:
    """A /24 of its own per deployment name (stable within the test session)."""
    if name not in _OCTETS:
        _OCTETS[name] = next(_NEXT)
    return _OCTETS[name]


def manifest(sim, name: str, groups: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    """A small v1 manifest on its own /24 (derived from the name) using cf jobs no part reacts to."""
    octet = _octet(name)
    info = sim.http.get("https://192.168.50.4:25555/info", timeout=10).json()
    doc: dict[str, Any] = {
        "name": name,
        "director_uuid": info["uuid"],
        "releases": [{"name": "cf", "version": 220}],
        "networks": [{"name": "net", "subnets": [{
            "range": f"10.244.{octet}.0/24", "gateway": f"10.244.{octet}.1", "reserved": [f"10.244.{octet}.1"],
            "static": [f"10.244.{octet}.2 - 10.244.{octet}.20"]}]}],
        "resource_pools": [{"name": "small", "network": "net",
                            "stemcell": {"name": STEMCELL, "version": "latest"}}],
        "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1000, "update_watch_time": 1000,
                   "serial": True},
        "jobs": groups if groups is not None else [
            {"name": "alpha", "templates": [{"name": "metron_agent"}], "instances": 2, "resource_pool": "small",
             "networks": [{"name": "net"}]},
            {"name": "beta", "templates": [{"name": "consul_agent"}, {"name": "metron_agent"}], "instances": 1,
             "resource_pool": "small", "networks": [{"name": "net", "static_ips": [f"10.244.{octet}.5"]}]},
        ],
    }
    doc.update(top)
    return doc


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def task_id(resp) -> str:
    assert resp.status_code == 302, (resp.status_code, resp.text)
    return resp.headers["Location"].rsplit("/", 1)[-1]


UPDATE_STAGE = {"2015": "Updating job", "current": "Updating instance"}
CREATE_STAGE = {"2015": "Creating bound missing VMs", "current": "Creating missing vms"}


def q(sim, name: str) -> str:
    """A name quoted as the era's messages quote it."""
    return f"`{name}'" if sim.era == "2015" else f"'{name}'"


def updating(events: list[dict[str, Any]], era: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("stage") == UPDATE_STAGE[era]]


def full_state(sim, name: str, kind: str | None = None) -> list[dict[str, Any]]:
    """`format=full` rows: of `/instances` today, of `/vms` on the 2015 director (it has no other)."""
    kind = kind or ("vms" if sim.era == "2015" else "instances")
    resp = sim.bosh("GET", f"/deployments/{name}/{kind}", params={"format": "full"})
    task = sim.wait_task(resp.headers["Location"])
    assert task["state"] == "done", task
    body = sim.bosh("GET", f"/tasks/{task['id']}/output", params={"type": "result"}).text
    return [json.loads(line) for line in body.splitlines()]


def instances(sim, name: str) -> list[dict[str, Any]]:
    """job, index, ips, cid (and id today) of each instance: `/instances` today; from the
    vm state task on the 2015 director, which has no `/instances`."""
    if sim.era == "2015":
        return [{"job": r["job_name"], "index": r["index"], "ips": r["ips"], "cid": r["vm_cid"]}
                for r in full_state(sim, name, "vms")]
    resp = sim.bosh("GET", f"/deployments/{name}/instances")
    assert resp.status_code == 200, resp.text
    return resp.json()


def put_state(sim, path: str, state: str, body: str = "", **params: Any):
    return sim.bosh("PUT", path, params={"state": state, **params}, data=body, headers={"Content-Type": "text/yaml"})


def _state(sim, path: str, state: str, **params: Any) -> dict[str, Any]:
    """A state change as a client of the era must send it: 1.3098 reads the manifest from the
    body of a job-level change (the Ruby CLI sent it); later directors take an empty body."""
    body = ""
    if sim.era == "2015" and path.count("/") == 4:  # /deployments/<d>/jobs/<job>
        body = sim.bosh("GET", "/deployments/" + path.split("/")[2]).json()["manifest"]
    return sim.wait_task(task_id(put_state(sim, path, state, body, **params)))


@pytest.fixture(scope="module", params=["2015", "current"])
def d(request):
    """The simulator of each director era."""
    return request.getfixturevalue("sim" if request.param == "2015" else "sim_current")


@pytest.fixture(scope="module")
def deployed(d) -> tuple[str, dict[str, Any], dict[str, Any]]:
    name = unique("api")
    doc = manifest(d, name)
    task = d.deploy(doc)
    assert task["state"] == "done", task
    return name, doc, task


# ---------------------------------------------------------------------- auth, routing, info


def test_info_needs_no_auth_and_names_the_user_when_given(d):
    anon = d.http.get("https://192.168.50.4:25555/info", timeout=10)
    assert anon.status_code == 200
    assert anon.json()["user"] is None
    authed = d.bosh("GET", "/info").json()
    assert authed["user"] == d.bosh_auth[0]
    assert authed["uuid"] == anon.json()["uuid"]
    if d.era == "2015":
        assert anon.json()["version"] == "1.3098.0 (00000000)"
        assert anon.json()["user_authentication"] == {"type": "basic", "options": {}}
        assert set(anon.json()["features"]) == {"dns", "compiled_package_cache", "snapshots"}
        assert "stemcell_os" not in anon.json()
    else:
        assert anon.json()["version"] == "283.1.6 (00000000)"
        assert anon.json()["user_authentication"]["type"] == "uaa"
        assert (anon.json()["stemcell_os"], anon.json()["stemcell_version"]) == ("-", "-")


def test_unauthenticated_requests_get_401_text(d):
    resp = d.http.get("https://192.168.50.4:25555/deployments", timeout=10)
    assert resp.status_code == 401
    assert resp.text == "Not authorized: '/deployments'\n"
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="BOSH Director"'
    wrong = d.bosh("GET", "/deployments", auth=("admin", "wrong"))
    assert wrong.status_code == 401


def test_a_director_has_one_identity_provider(sim, sim_current):
    """BOSH-Lite 2015 knows only its local users; a UAA director only bearer tokens: the
    right basic credentials are refused there."""
    bosh = sim_current.config["bosh"]
    basic = sim_current.bosh("GET", "/deployments", auth=(bosh["client"], bosh["client_secret"]))
    assert basic.status_code == 401
    assert sim_current.bosh("GET", "/deployments").status_code == 200  # with a token
    token = sim_current.bosh_token()
    bearer = sim.bosh("GET", "/deployments", auth=None, headers={"Authorization": f"bearer {token}"})
    assert bearer.status_code == 401
    assert sim.http.post("https://192.168.50.4:25555/oauth/token", timeout=10).status_code == 404


def test_text_yaml_is_a_routing_condition(d, deployed):
    name, doc, _ = deployed
    resp = d.bosh("POST", "/deployments", data=yaml.safe_dump(doc), headers={"Content-Type": "application/x-yaml"})
    assert resp.status_code == 404
    if d.era == "2015":  # Sinatra 1.4: no route matched
        assert resp.text == "<h1>Not Found</h1>"
        assert resp.headers["Content-Type"].startswith("text/html")
    else:
        assert resp.text == "Endpoint '/deployments' not found."
    put = d.bosh("PUT", f"/deployments/{name}/jobs/*", params={"state": "stopped"})
    assert put.status_code == 404
    outside = d.bosh("GET", "/no/such/endpoint")  # no controller is mounted there: Rack::URLMap
    assert (outside.status_code, outside.text) == (404, "Not Found: /no/such/endpoint")


@pytest.mark.parametrize(("path", "section"), [("/packages/matches", "packages"),
                                             ("/packages/matches_compiled", "compiled_packages")])
def test_package_matches_needs_its_own_packages_section(d, path, section):
    """`bosh upload-release` asks first; each route reads its own section
    (packages_controller.rb at 1.3098) and the simulator never has a package already."""
    yaml_type = {"Content-Type": "text/yaml"}
    good = d.bosh("POST", path, data=yaml.safe_dump({section: [{"name": "p", "fingerprint": "f"}]}),
                  headers=yaml_type)
    assert (good.status_code, good.json()) == (200, []), (path, good.status_code, good.text)
    other = "compiled_packages" if section == "packages" else "packages"
    wrong = d.bosh("POST", path, data=yaml.safe_dump({other: []}), headers=yaml_type)
    assert wrong.status_code == 400, (path, wrong.status_code, wrong.text)
    assert wrong.json() == {"code": 440001, "description": "Manifest doesn't have a usable packages section"}, path


def test_2015_routes_match_before_credentials_are_checked(sim):
    """1.3098 checks credentials as a route condition: without any, a path no route takes is
    a 404, not a 401; today's `before` filter answers 401 first."""
    anon = sim.session()
    assert anon.get("https://192.168.50.4:25555/deployments/x/instances", timeout=10).status_code == 404
    assert anon.get("https://192.168.50.4:25555/deployments/x/vms", timeout=10).status_code == 401


def test_today_credentials_are_checked_before_routing(sim_current):
    anon = sim_current.session()
    resp = anon.get("https://192.168.50.4:25555/deployments/x/no-such-route", timeout=10)
    assert resp.status_code == 401


@pytest.mark.parametrize("path", ["/deployments/d/instances", "/deployments/d/diff", "/events", "/configs",
                                  "/runtime_configs", "/tasks/cancel", "/deployments/d/instance_groups/g/0/actions/stop"])
def test_2015_director_has_none_of_the_later_routes(sim, path):
    method = "POST" if path.endswith(("diff", "cancel", "stop")) else "GET"
    ctype = {"diff": "text/yaml", "cancel": "application/json"}.get(path.rsplit("/", 1)[-1], "text/yaml")
    resp = sim.bosh(method, path, data=b"{}", headers={"Content-Type": ctype})
    assert resp.status_code == 404, (path, resp.status_code, resp.text)
    mounted = path.split("/")[1] in ("deployments", "tasks")
    assert resp.text == ("<h1>Not Found</h1>" if mounted else f"Not Found: {path}")


@pytest.mark.parametrize(("body", "code", "fragment"), [
    ("", 440001, "Manifest should not be empty"),
    ("name: [unclosed", 440001, "Incorrect YAML structure of the uploaded manifest"),
    ("- a\n- b\n", 440001, "Manifest should be a hash"),
    ("releases: []\n", 40001, "Deployment manifest must have a 'name' key"),
])
def test_request_time_manifest_errors(sim_current, body, code, fragment):
    resp = sim_current.post_yaml("/deployments", body)
    assert resp.status_code == 400
    assert resp.json()["code"] == code
    assert fragment in resp.json()["description"]


@pytest.mark.parametrize(("body", "fragment"), [
    ("", "undefined method `[]' for false:FalseClass"),
    ("name: [unclosed", "Incorrect YAML structure of the uploaded manifest"),
    ("releases: []\n", "must have a 'name' key"),
])
def test_2015_director_finds_manifest_problems_in_the_task(sim, body, fragment):
    """1.3098 writes the body to a file unread and answers 302; the task fails."""
    resp = sim.post_yaml("/deployments", body)
    task = sim.wait_task(task_id(resp))
    assert task["state"] == "error", task
    assert fragment in task["result"]
    assert fragment in sim.task_events(task["id"])[-1]["error"]["message"]


def test_unknown_task_is_404_10000(d):
    resp = d.bosh("GET", "/tasks/987654")
    assert resp.status_code == 404
    assert resp.json() == {"code": 10000, "description": "Task 987654 not found"}


# ---------------------------------------------------------------------- deploy and tasks


def test_deploy_redirects_to_the_task_and_finishes(d):
    name = unique("redir")
    resp = d.post_yaml("/deployments", manifest(d, name, groups=[]))
    assert resp.status_code == 302
    # 1.3098 behind nginx (`Host $host`): no port in the Location; clients must take the id only
    prefix = "https://192.168.50.4/tasks/" if d.era == "2015" else "https://192.168.50.4:25555/tasks/"
    assert resp.headers["Location"].startswith(prefix)
    task = d.wait_task(resp.headers["Location"])
    assert task["state"] == "done"
    assert task["description"] == "create deployment"
    assert task["result"] == f"/deployments/{name}"
    assert isinstance(task["timestamp"], int)
    if d.era == "2015":
        assert set(task) == {"id", "state", "description", "timestamp", "result", "user"}
    else:
        assert task["deployment"] == name and isinstance(task["started_at"], int) and task["context_id"] == ""


def test_context_id_is_kept_today_and_ignored_in_2015(d):
    """`X-Bosh-Context-Id`: today at most 64 characters, kept on the task; 1.3098 knew no such
    header (its task hash has no `context_id`)."""
    too_long = d.bosh("GET", "/deployments", headers={"X-Bosh-Context-Id": "x" * 65})
    name = unique("ctx")
    resp = d.bosh("POST", "/deployments", data=yaml.safe_dump(manifest(d, name, groups=[])),
                  headers={"Content-Type": "text/yaml", "X-Bosh-Context-Id": "ctx-1"})
    task = d.wait_task(task_id(resp))
    if d.era == "2015":
        assert too_long.status_code == 200, too_long.text
        assert "context_id" not in task, task
    else:
        assert too_long.status_code == 400, too_long.text
        assert too_long.json() == {"code": 70010,
                                   "description": "X-Bosh-Context-Id cannot be more than 64 characters in length"}
        assert task["context_id"] == "ctx-1", (name, task)


def test_today_task_timestamp_is_null_while_it_runs(sim_current):
    name = unique("tsnull")
    sim_current.inject_fault("delay_next_task", name, params={"seconds": 30})
    tid = task_id(sim_current.post_yaml("/deployments", manifest(sim_current, name, groups=[])))
    for _ in range(100):
        task = sim_current.bosh("GET", f"/tasks/{tid}").json()
        if task["state"] == "processing":
            break
        time.sleep(0.05)
    assert (task["state"], task["timestamp"]) == ("processing", None)
    sim_current.bosh("DELETE", f"/task/{tid}")
    assert isinstance(sim_current.wait_task(tid)["timestamp"], int)


def test_event_output_is_json_lines_with_canary_marks(d, deployed):
    _, _, task = deployed
    events = d.task_events(task["id"])
    assert all(isinstance(e["time"], int) for e in events)
    stages = [e["stage"] for e in events if "stage" in e]
    assert stages.index("Preparing deployment") < stages.index(CREATE_STAGE[d.era]) < stages.index(
        UPDATE_STAGE[d.era])
    alpha = [e for e in updating(events, d.era) if e["tags"] == ["alpha"]]
    started = [e for e in alpha if e["state"] == "started"]
    assert len(started) == 2
    # 1.3098 names instances `job/index`, later directors `group/uuid (index)`
    assert started[0]["task"] == "alpha/0 (canary)" if d.era == "2015" else started[0]["task"].endswith(
        "(0) (canary)")
    assert not started[1]["task"].endswith("(canary)")
    assert {e["total"] for e in alpha} == {2}
    assert [e["index"] for e in started] == [1, 2]


def test_task_output_range_semantics(d, deployed):
    _, _, task = deployed
    path = f"/tasks/{task['id']}/output"
    full = d.bosh("GET", path, params={"type": "event"})
    assert full.status_code == 200
    size = len(full.content)
    part = d.bosh("GET", path, params={"type": "event"}, headers={"Range": "bytes=10-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-{size - 1}/{size}"
    assert part.content == full.content[10:]
    beyond = d.bosh("GET", path, params={"type": "event"}, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    empty = d.bosh("GET", path, params={"type": "result"}, headers={"Range": "bytes=0-"})
    assert (empty.status_code, empty.content) == (200, b"")
    assert d.bosh("GET", path, params={"type": "none"}).status_code == 204
    debug = d.bosh("GET", path)  # default type=debug
    assert debug.status_code == 200 and b"Starting task" in debug.content
    assert debug.headers["Date"].count(",") == 1  # one Date (two would be joined with ", ")


def test_listings(d, deployed):
    name, doc, _ = deployed
    deps = {x["name"]: x for x in d.bosh("GET", "/deployments").json()}
    assert deps[name]["releases"] == [{"name": "cf", "version": "220"}]
    assert deps[name]["stemcells"] == [{"name": STEMCELL, "version": "2776"}]
    assert deps[name]["cloud_config"] == "none"
    expected_keys = {"name", "releases", "stemcells", "cloud_config"} | (
        set() if d.era == "2015" else {"teams", "locked"})
    assert set(deps[name]) == expected_keys
    assert yaml.safe_load(d.bosh("GET", f"/deployments/{name}").json()["manifest"]) == doc
    releases = {r["name"]: r for r in d.bosh("GET", "/releases").json()}
    cf = {v["version"]: v for v in releases["cf"]["release_versions"]}
    assert cf["220"]["currently_deployed"] is True
    assert "cloud_controller_ng" in cf["220"]["job_names"]
    stemcells = d.bosh("GET", "/stemcells").json()
    assert any(s["name"] == STEMCELL and {"name": name} in s["deployments"] for s in stemcells)
    configs = d.bosh("GET", "/configs", params={"type": "deploy", "latest": "true"})
    assert (configs.status_code, configs.json() if configs.status_code == 200 else None) == (
        (404, None) if d.era == "2015" else (200, []))


def test_2015_listing_shapes(sim, deployed_2015):
    name = deployed_2015
    vms = sim.bosh("GET", f"/deployments/{name}/vms").json()
    assert all(set(v) == {"agent_id", "cid", "job", "index"} for v in vms)
    full = full_state(sim, name, "vms")
    assert all(set(r) == {"vm_cid", "disk_cid", "ips", "dns", "agent_id", "job_name", "index", "job_state",
                          "resource_pool", "vitals", "processes", "resurrection_paused"} for r in full)
    stemcells = sim.bosh("GET", "/stemcells").json()
    assert all(set(s) == {"name", "operating_system", "version", "cid", "deployments"} for s in stemcells)
    cloud = sim.bosh("GET", "/cloud_configs")
    assert (cloud.status_code, cloud.text) == (400, "limit is required")
    assert sim.bosh("GET", "/cloud_configs", params={"limit": "1"}).json() == []


@pytest.fixture(scope="module")
def deployed_2015(sim) -> str:
    name = unique("era15")
    assert sim.deploy(manifest(sim, name))["state"] == "done"
    return name


def test_instances_have_static_and_dynamic_ips_and_vms(d, deployed):
    name, doc, _ = deployed
    static = doc["jobs"][1]["networks"][0]["static_ips"][0]
    insts = {(i["job"], i["index"]): i for i in instances(d, name)}
    assert set(insts) == {("alpha", 0), ("alpha", 1), ("beta", 0)}
    assert insts[("beta", 0)]["ips"] == [static]
    octet = static.split(".")[2]
    for key in (("alpha", 0), ("alpha", 1)):
        ip = insts[key]["ips"][0]
        assert ip.startswith(f"10.244.{octet}.") and int(ip.rsplit(".", 1)[1]) > 20  # dynamic: outside static
    vms = d.bosh("GET", f"/deployments/{name}/vms").json()
    assert {v["cid"] for v in vms} == {i["cid"] for i in insts.values()}
    full = full_state(d, name, "vms")
    assert {(f["job_name"], f["index"], f["job_state"]) for f in full} == {
        ("alpha", 0, "running"), ("alpha", 1, "running"), ("beta", 0, "running")}
    beta = next(f for f in full if f["job_name"] == "beta")
    assert [p["name"] for p in beta["processes"]] == ["consul_agent", "metron_agent"]
    assert isinstance(beta["vitals"]["cpu"]["sys"], str)


def test_redeploying_the_same_manifest_updates_nothing_and_keeps_ips(d, deployed):
    name, doc, _ = deployed
    before = {(i["job"], i["index"]): (i["ips"], i["cid"]) for i in instances(d, name)}
    task = d.deploy(doc)
    assert task["state"] == "done"
    assert updating(d.task_events(task["id"]), d.era) == []
    after = {(i["job"], i["index"]): (i["ips"], i["cid"]) for i in instances(d, name)}
    assert after == before


def test_diff_endpoint(sim_current):
    name = unique("diff")
    doc = manifest(sim_current, name)
    assert sim_current.deploy(doc)["state"] == "done"
    changed = json.loads(json.dumps(doc))
    changed["jobs"][0]["instances"] = 3
    resp = sim_current.post_yaml(f"/deployments/{name}/diff", changed, params={"redact": "true"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["context"] == {"cloud_config_ids": [], "runtime_config_ids": []}
    assert ["  instances: 3", "added"] in body["diff"] or any(
        x[1] == "added" and "instances: 3" in x[0] for x in body["diff"])
    bad = sim_current.post_yaml(f"/deployments/{name}/diff", {**doc, "releases": [{"name": "nope", "version": 1}]})
    assert bad.status_code == 200 and bad.json()["error"].startswith("Unable to diff manifest")


# ---------------------------------------------------------------------- validation at task time


def _broken(sim, name: str, change) -> dict[str, Any]:
    doc = manifest(sim, name)
    change(doc)
    return doc


@pytest.mark.parametrize(("case", "change", "fragment"), [
    ("unknown-release", lambda m: m["releases"].append({"name": "nginx", "version": 1}),
     "Release {nginx} doesn't exist"),
    ("unknown-version", lambda m: m["releases"].__setitem__(0, {"name": "cf", "version": 999}),
     "Release version {cf/999} doesn't exist"),
    ("missing-job", lambda m: m["jobs"][0]["templates"].append({"name": "bbs"}),
     "Job 'bbs' not found in release 'cf/220'"),
    ("missing-stemcell", lambda m: m["resource_pools"][0]["stemcell"].__setitem__("version", "1"),
     f"Stemcell '{STEMCELL}/1' doesn't exist"),
    ("wrong-uuid", lambda m: m.__setitem__("director_uuid", "00000000-0000-0000-0000-000000000000"),
     "doesn't match this director's UUID"),
    ("duplicate", lambda m: m["jobs"].append(dict(m["jobs"][0])), "Duplicate job name 'alpha'"),
    ("static-outside", lambda m: m["jobs"][1]["networks"][0].__setitem__("static_ips", ["10.244.250.9"]),
     "not in the static ranges of network 'net'"),
])
def test_manifest_validation_fails_the_task(d, case, change, fragment):
    name = unique(f"bad-{case}")
    task = d.deploy(_broken(d, name, change))
    assert task["state"] == "error", task
    fragment = re.sub(r"\{([^}]*)\}", lambda m: q(d, m.group(1)), fragment)
    assert fragment in task["result"]
    errors = [e for e in d.task_events(task["id"]) if "error" in e]
    assert errors and fragment in errors[-1]["error"]["message"]
    assert isinstance(errors[-1]["error"]["code"], int)


def test_latest_resolves_to_highest_uploaded_version(d):
    name = unique("latest")
    task = d.deploy(manifest(d, name, releases=[{"name": "cf", "version": "latest"}]))
    assert task["state"] == "done", task
    deps = {x["name"]: x for x in d.bosh("GET", "/deployments").json()}
    assert deps[name]["releases"] == [{"name": "cf", "version": "231"}]
    assert d.bosh("DELETE", f"/deployments/{name}").status_code == 302


# ---------------------------------------------------------------------- update ordering


def _group(name: str, n: int, serial: bool, canaries: int = 1, mif: int = 1) -> dict[str, Any]:
    return {"name": name, "templates": [{"name": "metron_agent"}], "instances": n, "resource_pool": "small",
            "networks": [{"name": "net"}],
            "update": {"serial": serial, "canaries": canaries, "max_in_flight": mif}}


def _positions(events, era: str, group: str, state: str) -> list[int]:
    return [i for i, e in enumerate(events) if e.get("stage") == UPDATE_STAGE[era] and e["tags"] == [group]
            and e["state"] == state]


def test_serial_groups_wait_and_canary_goes_first(d):
    name = unique("serial")
    task = d.deploy(manifest(d, name, groups=[_group("one", 3, True), _group("two", 1, True)]))
    assert task["state"] == "done", task
    events = d.task_events(task["id"])
    one_started, one_finished = _positions(events, d.era, "one", "started"), _positions(events, d.era, "one",
                                                                                         "finished")
    two_started = _positions(events, d.era, "two", "started")
    # canary finishes before any other instance of the group starts (max_in_flight 1: one at a time)
    assert one_finished[0] < one_started[1]
    assert one_finished[1] < one_started[2]
    # serial: the next group starts after the last instance of the previous one
    assert two_started[0] > max(one_finished)


def test_non_serial_groups_update_in_parallel_with_max_in_flight(d):
    name = unique("parallel")
    groups = [_group("par-a", 3, False, canaries=1, mif=2), _group("par-b", 3, False, canaries=1, mif=2)]
    task = d.deploy(manifest(d, name, groups=groups))
    assert task["state"] == "done", task
    events = d.task_events(task["id"])
    a_started, a_finished = _positions(events, d.era, "par-a", "started"), _positions(events, d.era, "par-a",
                                                                                       "finished")
    b_started = _positions(events, d.era, "par-b", "started")
    assert b_started[0] < max(a_finished)  # b does not wait for a
    # after the canary, two instances of a are in flight at once
    assert a_started[2] < a_finished[1]
    assert a_finished[0] < a_started[1]  # but the canary first


def test_instance_count_decrease_deletes_instances(d):
    name = unique("shrink")
    doc = manifest(d, name, groups=[_group("g", 3, True)])
    assert d.deploy(doc)["state"] == "done"
    doc["jobs"][0]["instances"] = 1
    task = d.deploy(doc)
    assert task["state"] == "done"
    assert [(i["job"], i["index"]) for i in instances(d, name)] == [("g", 0)]
    deleting = [e for e in d.task_events(task["id"]) if e.get("stage") == "Deleting unneeded instances"]
    assert len([e for e in deleting if e["state"] == "finished"]) == 2
    assert updating(d.task_events(task["id"]), d.era) == []


# ---------------------------------------------------------------------- job state changes


def test_stop_start_one_instance_and_all(d, deployed):
    name, _, _ = deployed
    task = _state(d, f"/deployments/{name}/jobs/alpha/1", "stopped")
    assert task["state"] == "done" and task["description"] == "create deployment"
    by_key = {(f["job_name"], f["index"]): f for f in full_state(d, name)}
    assert by_key[("alpha", 1)]["job_state"] == "stopped"
    assert by_key[("alpha", 1)]["vm_cid"] is not None  # soft stop keeps the VM
    assert by_key[("alpha", 0)]["job_state"] == "running"
    task = _state(d, f"/deployments/{name}/jobs/*", "started")
    assert task["state"] == "done"
    started = [e for e in updating(d.task_events(task["id"]), d.era) if e["state"] == "started"]
    assert len(started) == 1 and ("alpha/1" if d.era == "2015" else "(1)") in started[0]["task"]
    assert {f["job_state"] for f in full_state(d, name)} == {"running"}


def test_2015_job_level_change_needs_the_manifest_in_the_body(sim, deployed_2015):
    """1.3098's job-level PUT reads the manifest from the body, always: an empty one (what the
    Go CLI sends) fails the task as Ruby fails on `false['name']`; the index-level PUT takes
    an empty body as the stored manifest."""
    name = deployed_2015
    empty = sim.wait_task(task_id(put_state(sim, f"/deployments/{name}/jobs/*", "stopped")))
    assert (empty["state"], empty["result"]) == ("error", "undefined method `[]' for false:FalseClass")
    assert sim.task_events(empty["id"])[-1]["error"] == {"code": 100,
                                                         "message": "undefined method `[]' for false:FalseClass"}
    assert {f["job_state"] for f in full_state(sim, name)} == {"running"}  # nothing changed
    manifest_text = sim.bosh("GET", f"/deployments/{name}").json()["manifest"]
    with_body = sim.wait_task(task_id(put_state(sim, f"/deployments/{name}/jobs/alpha", "stopped", manifest_text)))
    assert with_body["state"] == "done"
    assert {(f["job_name"], f["job_state"]) for f in full_state(sim, name)} == {
        ("alpha", "stopped"), ("beta", "running")}
    index_level = sim.wait_task(task_id(put_state(sim, f"/deployments/{name}/jobs/alpha/0", "started")))
    assert index_level["state"] == "done"


def test_stop_by_uuid_then_detach_and_recreate(sim_current):
    sim = sim_current
    name = unique("uuid")
    assert sim.deploy(manifest(sim, name))["state"] == "done"
    beta = next(i for i in instances(sim, name) if i["job"] == "beta")
    assert _state(sim, f"/deployments/{name}/jobs/beta/{beta['id']}", "detached")["state"] == "done"
    vms = sim.bosh("GET", f"/deployments/{name}/vms").json()
    assert beta["id"] not in {v["id"] for v in vms}
    detached = next(i for i in instances(sim, name) if i["job"] == "beta")
    assert detached["cid"] is None and detached["ips"] == beta["ips"]
    assert _state(sim, f"/deployments/{name}/jobs/beta", "started")["state"] == "done"
    started = next(i for i in instances(sim, name) if i["job"] == "beta")
    assert started["cid"] is not None and started["cid"] != beta["cid"]
    assert _state(sim, f"/deployments/{name}/jobs/beta/0", "recreate")["state"] == "done"
    recreated = next(i for i in instances(sim, name) if i["job"] == "beta")
    assert recreated["cid"] != started["cid"] and recreated["id"] == beta["id"]
    task = _state(sim, f"/deployments/{name}/jobs/alpha", "restart")
    assert len([e for e in updating(sim.task_events(task["id"]), sim.era) if e["state"] == "finished"]) == 2


def test_state_change_errors(d, deployed):
    name, _, _ = deployed
    missing = put_state(d, "/deployments/nope-nope/jobs/*", "stopped")
    assert (missing.status_code, missing.json()["code"]) == (404, 70000)
    assert missing.json()["description"] == f"Deployment {q(d, 'nope-nope')} doesn't exist"
    no_inst = put_state(d, f"/deployments/{name}/jobs/alpha/7", "stopped")
    assert (no_inst.status_code, no_inst.json()["code"]) == (404, 70001)
    assert no_inst.json()["description"] == f"{q(d, f'{name}/alpha/7')} doesn't exist"
    bad = put_state(d, f"/deployments/{name}/jobs/alpha/xyz", "stopped")
    assert (bad.status_code, bad.json()["code"]) == (400, 70002)
    what = "index" if d.era == "2015" else "index or id"
    assert bad.json()["description"] == f"Invalid instance {what} {q(d, 'xyz')}", (name, bad.json())
    # 1.3098 takes an index only (`Integer(params[:index])`); a uuid is not one
    some_uuid = "1b2c3d4e-0000-4000-8000-00000000abcd"
    by_uuid = put_state(d, f"/deployments/{name}/jobs/alpha/{some_uuid}", "stopped")
    if d.era == "2015":
        assert (by_uuid.status_code, by_uuid.json()) == (
            400, {"code": 70002, "description": f"Invalid instance index `{some_uuid}'"})
    else:
        assert (by_uuid.status_code, by_uuid.json()["code"]) == (404, 70001)


# ---------------------------------------------------------------------- delete, faults, cancel


def test_delete_deployment(d):
    name = unique("delete")
    assert d.deploy(manifest(d, name, groups=[_group("g", 2, True)]))["state"] == "done"
    task = d.wait_task(task_id(d.bosh("DELETE", f"/deployments/{name}")))
    assert task["state"] == "done" and task["description"] == f"delete deployment {name}"
    assert d.bosh("GET", f"/deployments/{name}").json()["code"] == 70000
    assert name not in {x["name"] for x in d.bosh("GET", "/deployments").json()}
    again = d.bosh("DELETE", f"/deployments/{name}")
    assert (again.status_code, again.json()["code"]) == (404, 70000)


def test_fault_admin_endpoint(sim):
    assert sim.http.get("https://192.168.50.4:25555/_simulator/faults", timeout=10).status_code == 401
    fid = sim.inject_fault("fail_next_task", "some-dep", params={"message": "boom"})
    listed = sim.bosh("GET", "/_simulator/faults").json()["faults"]
    assert any(f["id"] == fid and f["kind"] == "fail_next_task" for f in listed)
    bad = sim.bosh("POST", "/_simulator/faults", json={"kind": "no_such_kind"})
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["description"]
    assert sim.bosh("DELETE", "/_simulator/faults").status_code == 204
    assert sim.bosh("GET", "/_simulator/faults").json()["faults"] == []


def test_fail_next_task_fault(d):
    name = unique("fail")
    d.inject_fault("fail_next_task", name, params={"message": "simulated canary failure"})
    task = d.deploy(manifest(d, name, groups=[_group("g", 1, True)]))
    assert task["state"] == "error"
    assert task["result"] == "simulated canary failure"
    assert d.task_events(task["id"])[-1]["error"]["message"] == "simulated canary failure"
    assert d.deploy(manifest(d, name, groups=[_group("g", 1, True)]))["state"] == "done"  # one-shot


def test_cancel_next_task_fault(d):
    name = unique("cancelfault")
    d.inject_fault("cancel_next_task", name)
    task = d.deploy(manifest(d, name, groups=[]))
    assert (task["state"], task["result"]) == ("cancelled", "task cancelled")


def test_delay_fault_and_cancel_endpoint(d):
    name = unique("delay")
    d.inject_fault("delay_next_task", name, params={"seconds": 30})
    resp = d.post_yaml("/deployments", manifest(d, name, groups=[]))
    tid = task_id(resp)
    for _ in range(100):
        if d.bosh("GET", f"/tasks/{tid}").json()["state"] == "processing":
            break
        time.sleep(0.05)
    cancel = d.bosh("DELETE", f"/task/{tid}")
    assert cancel.status_code == 204
    task = d.wait_task(tid, timeout=10)
    assert task["state"] == "cancelled"
    late = d.bosh("DELETE", f"/task/{tid}")
    assert late.status_code == 400
    assert late.text == f"Cannot cancel task {tid}: invalid state (cancelled)"


def test_tasks_listing(d, deployed):
    name, _, task = deployed
    other = unique("other")
    assert d.deploy(manifest(d, other, groups=[]))["state"] == "done"
    listed = d.bosh("GET", "/tasks", params={"deployment": name, "limit": 50}).json()
    assert task["id"] in {t["id"] for t in listed}
    ids = [t["id"] for t in listed]
    assert ids == sorted(ids, reverse=True)
    if d.era == "2015":  # no `deployment=` filter before 1.3213: every deployment's tasks come back
        assert any(t["result"] == f"/deployments/{other}" for t in listed)
        assert all("deployment" not in t for t in listed)
    else:
        assert {t["deployment"] for t in listed} == {name}
    assert len(d.bosh("GET", "/tasks", params={"limit": "0"}).json()) == 1  # limit < 1 counts as 1
    vm_state = d.wait_task(d.bosh("GET", f"/deployments/{name}/vms", params={"format": "full"}).headers["Location"])
    default = {t["id"] for t in d.bosh("GET", "/tasks").json()}
    everything = {t["id"] for t in d.bosh("GET", "/tasks", params={"verbose": "2"}).json()}
    assert vm_state["id"] not in default and vm_state["id"] in everything  # verbose=1 keeps user-facing types


# ---------------------------------------------------------------------- uploads


def _tarball(member: str, doc: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = yaml.safe_dump(doc).encode()
        info = tarfile.TarInfo(f"./{member}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_release_tarball_upload_and_deploy(d):
    rel = unique("myrel")
    data = _tarball("release.MF", {"name": rel, "version": "1.2", "commit_hash": "abc123",
                                   "uncommitted_changes": False, "jobs": [{"name": "web"}, {"name": "worker"}]})
    resp = d.bosh("POST", "/releases", data=data, headers={"Content-Type": "application/x-compressed"})
    task = d.wait_task(task_id(resp))
    assert task["state"] == "done", task
    releases = {r["name"]: r for r in d.bosh("GET", "/releases").json()}
    version = releases[rel]["release_versions"][0]
    assert (version["version"], version["commit_hash"], version["job_names"]) == ("1.2", "abc123", ["web", "worker"])
    name = unique("myrel-dep")
    doc = manifest(d, name, releases=[{"name": rel, "version": "latest"}],
                   groups=[{"name": "w", "templates": [{"name": "web", "release": rel}], "instances": 1,
                            "resource_pool": "small", "networks": [{"name": "net"}]}])
    assert d.deploy(doc)["state"] == "done"


def test_release_upload_by_location(d, tmp_path):
    rel = unique("filerel")
    path = tmp_path / "r.tgz"
    path.write_bytes(_tarball("release.MF", {"name": rel, "version": "3", "jobs": [{"name": "j"}]}))
    ok = d.wait_task(task_id(d.bosh("POST", "/releases", json={"location": path.as_uri()})))
    assert ok["state"] == "done"
    assert rel in {r["name"] for r in d.bosh("GET", "/releases").json()}
    remote = d.wait_task(task_id(d.bosh(
        "POST", "/releases", json={"location": "https://bosh.io/d/github.com/cloudfoundry/cf-release?v=220"})))
    assert remote["state"] == "error" and "file://" in remote["result"]
    garbage = d.wait_task(task_id(d.bosh("POST", "/releases", data=b"not a tarball",
                                         headers={"Content-Type": "application/x-compressed"})))
    assert garbage["state"] == "error"


def test_stemcell_upload(d):
    data = _tarball("stemcell.MF", {"name": "bosh-test-stemcell", "version": "42", "operating_system": "ubuntu-x"})
    task = d.wait_task(task_id(d.bosh("POST", "/stemcells", data=data,
                                      headers={"Content-Type": "application/x-compressed"})))
    assert task["state"] == "done", task
    stemcells = {(s["name"], s["version"]): s for s in d.bosh("GET", "/stemcells").json()}
    assert stemcells[("bosh-test-stemcell", "42")]["operating_system"] == "ubuntu-x"


def test_non_converging_instance_actions(sim_current):
    sim = sim_current
    name = unique("actions")
    assert sim.deploy(manifest(sim, name, groups=[_group("g", 2, True)]))["state"] == "done"
    target = next(i for i in instances(sim, name) if i["index"] == 1)
    resp = sim.bosh("POST", f"/deployments/{name}/instance_groups/g/{target['id']}/actions/stop",
                    headers={"Content-Type": "text/yaml"})
    task = sim.wait_task(task_id(resp))
    assert (task["state"], task["description"]) == ("done", "stop instance")
    states = {f["index"]: f["job_state"] for f in full_state(sim, name)}
    assert states == {0: "running", 1: "stopped"}
    hard = sim.bosh("POST", f"/deployments/{name}/instance_groups/g/1/actions/stop", params={"hard": "true"},
                    headers={"Content-Type": "text/yaml"})
    assert sim.wait_task(task_id(hard))["state"] == "done"
    assert next(i for i in instances(sim, name) if i["index"] == 1)["cid"] is None
    start = sim.bosh("POST", f"/deployments/{name}/instance_groups/g/1/actions/start",
                     headers={"Content-Type": "text/yaml"})
    assert sim.wait_task(task_id(start))["state"] == "done"
    assert {f["job_state"] for f in full_state(sim, name)} == {"running"}


def test_multipart_upload_of_a_large_tarball(d):
    rel = unique("bigrel")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data in (("release.MF", yaml.safe_dump({"name": rel, "version": "7", "jobs": [{"name": "x"}]})
                              .encode()), ("packages/blob.tgz", bytes(range(256)) * 40000)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = d.bosh("POST", "/releases", files={"release": ("r.tgz", buf.getvalue(), "application/x-compressed")})
    assert d.wait_task(task_id(resp))["state"] == "done"
    assert {"version": "7"}.items() <= {
        r["name"]: r for r in d.bosh("GET", "/releases").json()}[rel]["release_versions"][0].items()
