"""The simulated director at the HTTP level (wire-contracts §2), through the shared `sim`."""

from __future__ import annotations

import io
import itertools
import json
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


def updating(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("stage") == "Updating instance"]


def instances(sim, name: str) -> list[dict[str, Any]]:
    resp = sim.bosh("GET", f"/deployments/{name}/instances")
    assert resp.status_code == 200, resp.text
    return resp.json()


def full_state(sim, name: str, kind: str = "instances") -> list[dict[str, Any]]:
    resp = sim.bosh("GET", f"/deployments/{name}/{kind}", params={"format": "full"})
    task = sim.wait_task(resp.headers["Location"])
    assert task["state"] == "done", task
    body = sim.bosh("GET", f"/tasks/{task['id']}/output", params={"type": "result"}).text
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture(scope="module")
def deployed(sim) -> tuple[str, dict[str, Any], dict[str, Any]]:
    name = unique("api")
    doc = manifest(sim, name)
    task = sim.deploy(doc)
    assert task["state"] == "done", task
    return name, doc, task


# ---------------------------------------------------------------------- auth, routing, info


def test_info_needs_no_auth_and_names_the_user_when_given(sim):
    anon = sim.http.get("https://192.168.50.4:25555/info", timeout=10)
    assert anon.status_code == 200
    assert anon.json()["user"] is None
    assert anon.json()["user_authentication"]["type"] == "basic"
    authed = sim.bosh("GET", "/info").json()
    assert authed["user"] == sim.bosh_auth[0]
    assert authed["uuid"] == anon.json()["uuid"]


def test_unauthenticated_requests_get_401_text(sim):
    resp = sim.http.get("https://192.168.50.4:25555/deployments", timeout=10)
    assert resp.status_code == 401
    assert resp.text == "Not authorized: '/deployments'\n"
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="BOSH Director"'
    wrong = sim.bosh("GET", "/deployments", auth=("admin", "wrong"))
    assert wrong.status_code == 401


def test_text_yaml_is_a_routing_condition(sim, deployed):
    name, doc, _ = deployed
    resp = sim.bosh("POST", "/deployments", data=yaml.safe_dump(doc), headers={"Content-Type": "application/x-yaml"})
    assert resp.status_code == 404
    assert resp.text == "Endpoint '/deployments' not found."
    put = sim.bosh("PUT", f"/deployments/{name}/jobs/*", params={"state": "stopped"})
    assert put.status_code == 404
    assert sim.bosh("GET", "/no/such/endpoint").status_code == 404


@pytest.mark.parametrize(("body", "code", "fragment"), [
    ("", 440001, "Manifest should not be empty"),
    ("name: [unclosed", 440001, "Incorrect YAML structure of the uploaded manifest"),
    ("- a\n- b\n", 440001, "Manifest should be a hash"),
    ("releases: []\n", 40001, "Deployment manifest must have a 'name' key"),
])
def test_request_time_manifest_errors(sim, body, code, fragment):
    resp = sim.post_yaml("/deployments", body)
    assert resp.status_code == 400
    assert resp.json()["code"] == code
    assert fragment in resp.json()["description"]


def test_unknown_task_is_404_10000(sim):
    resp = sim.bosh("GET", "/tasks/987654")
    assert resp.status_code == 404
    assert resp.json() == {"code": 10000, "description": "Task 987654 not found"}


# ---------------------------------------------------------------------- deploy and tasks


def test_deploy_redirects_to_absolute_task_and_finishes(sim):
    name = unique("redir")
    resp = sim.post_yaml("/deployments", manifest(sim, name, groups=[]))
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://192.168.50.4:25555/tasks/")
    task = sim.wait_task(resp.headers["Location"])
    assert task["state"] == "done"
    assert task["description"] == "create deployment"
    assert task["result"] == f"/deployments/{name}"
    assert task["deployment"] == name
    assert isinstance(task["timestamp"], int)


def test_event_output_is_json_lines_with_canary_marks(sim, deployed):
    _, _, task = deployed
    events = sim.task_events(task["id"])
    assert all(isinstance(e["time"], int) for e in events)
    stages = [e["stage"] for e in events if "stage" in e]
    assert stages.index("Preparing deployment") < stages.index("Creating missing vms") < stages.index(
        "Updating instance")
    alpha = [e for e in updating(events) if e["tags"] == ["alpha"]]
    started = [e for e in alpha if e["state"] == "started"]
    assert len(started) == 2
    assert started[0]["task"].endswith("(0) (canary)")
    assert not started[1]["task"].endswith("(canary)")
    assert {e["total"] for e in alpha} == {2}
    assert [e["index"] for e in started] == [1, 2]


def test_task_output_range_semantics(sim, deployed):
    _, _, task = deployed
    path = f"/tasks/{task['id']}/output"
    full = sim.bosh("GET", path, params={"type": "event"})
    assert full.status_code == 200
    size = len(full.content)
    part = sim.bosh("GET", path, params={"type": "event"}, headers={"Range": "bytes=10-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-{size - 1}/{size}"
    assert part.content == full.content[10:]
    beyond = sim.bosh("GET", path, params={"type": "event"}, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    empty = sim.bosh("GET", path, params={"type": "result"}, headers={"Range": "bytes=0-"})
    assert (empty.status_code, empty.content) == (200, b"")
    assert sim.bosh("GET", path, params={"type": "none"}).status_code == 204
    debug = sim.bosh("GET", path)  # default type=debug
    assert debug.status_code == 200 and b"Starting task" in debug.content


def test_listings(sim, deployed):
    name, doc, _ = deployed
    deps = {d["name"]: d for d in sim.bosh("GET", "/deployments").json()}
    assert deps[name]["releases"] == [{"name": "cf", "version": "220"}]
    assert deps[name]["stemcells"] == [{"name": STEMCELL, "version": "2776"}]
    assert yaml.safe_load(sim.bosh("GET", f"/deployments/{name}").json()["manifest"]) == doc
    releases = {r["name"]: r for r in sim.bosh("GET", "/releases").json()}
    cf = {v["version"]: v for v in releases["cf"]["release_versions"]}
    assert cf["220"]["currently_deployed"] is True
    assert "cloud_controller_ng" in cf["220"]["job_names"]
    stemcells = sim.bosh("GET", "/stemcells").json()
    assert any(s["name"] == STEMCELL and {"name": name} in s["deployments"] for s in stemcells)
    assert sim.bosh("GET", "/configs", params={"type": "deploy", "latest": "true"}).json() == []


def test_instances_have_static_and_dynamic_ips_and_vms(sim, deployed):
    name, doc, _ = deployed
    static = doc["jobs"][1]["networks"][0]["static_ips"][0]
    insts = {(i["job"], i["index"]): i for i in instances(sim, name)}
    assert set(insts) == {("alpha", 0), ("alpha", 1), ("beta", 0)}
    assert insts[("beta", 0)]["ips"] == [static]
    octet = static.split(".")[2]
    for key in (("alpha", 0), ("alpha", 1)):
        ip = insts[key]["ips"][0]
        assert ip.startswith(f"10.244.{octet}.") and int(ip.rsplit(".", 1)[1]) > 20  # dynamic: outside static
    vms = sim.bosh("GET", f"/deployments/{name}/vms").json()
    assert {v["cid"] for v in vms} == {i["cid"] for i in insts.values()}
    full = full_state(sim, name, "vms")
    assert {(f["job_name"], f["index"], f["job_state"]) for f in full} == {
        ("alpha", 0, "running"), ("alpha", 1, "running"), ("beta", 0, "running")}
    beta = next(f for f in full if f["job_name"] == "beta")
    assert [p["name"] for p in beta["processes"]] == ["consul_agent", "metron_agent"]
    assert isinstance(beta["vitals"]["cpu"]["sys"], str)


def test_redeploying_the_same_manifest_updates_nothing_and_keeps_ips(sim, deployed):
    name, doc, _ = deployed
    before = {(i["job"], i["index"]): (i["ips"], i["cid"]) for i in instances(sim, name)}
    task = sim.deploy(doc)
    assert task["state"] == "done"
    assert updating(sim.task_events(task["id"])) == []
    after = {(i["job"], i["index"]): (i["ips"], i["cid"]) for i in instances(sim, name)}
    assert after == before


def test_diff_endpoint(sim, deployed):
    name, doc, _ = deployed
    changed = json.loads(json.dumps(doc))
    changed["jobs"][0]["instances"] = 3
    resp = sim.post_yaml(f"/deployments/{name}/diff", changed, params={"redact": "true"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["context"] == {"cloud_config_ids": [], "runtime_config_ids": []}
    assert ["  instances: 3", "added"] in body["diff"] or any(
        d[1] == "added" and "instances: 3" in d[0] for d in body["diff"])
    bad = sim.post_yaml(f"/deployments/{name}/diff", {**doc, "releases": [{"name": "nope", "version": 1}]})
    assert bad.status_code == 200 and bad.json()["error"].startswith("Unable to diff manifest")


# ---------------------------------------------------------------------- validation at task time


def _broken(sim, name: str, change) -> dict[str, Any]:
    doc = manifest(sim, name)
    change(doc)
    return doc


@pytest.mark.parametrize(("case", "change", "fragment"), [
    ("unknown-release", lambda d: d["releases"].append({"name": "nginx", "version": 1}),
     "Release 'nginx' doesn't exist"),
    ("unknown-version", lambda d: d["releases"].__setitem__(0, {"name": "cf", "version": 999}),
     "Release version 'cf/999' doesn't exist"),
    ("missing-job", lambda d: d["jobs"][0]["templates"].append({"name": "bbs"}),
     "Job 'bbs' not found in release 'cf/220'"),
    ("missing-stemcell", lambda d: d["resource_pools"][0]["stemcell"].__setitem__("version", "1"),
     f"Stemcell '{STEMCELL}/1' doesn't exist"),
    ("wrong-uuid", lambda d: d.__setitem__("director_uuid", "00000000-0000-0000-0000-000000000000"),
     "doesn't match this director's UUID"),
    ("duplicate", lambda d: d["jobs"].append(dict(d["jobs"][0])), "Duplicate job name 'alpha'"),
    ("static-outside", lambda d: d["jobs"][1]["networks"][0].__setitem__("static_ips", ["10.244.250.9"]),
     "not in the static ranges of network 'net'"),
])
def test_manifest_validation_fails_the_task(sim, case, change, fragment):
    name = unique(f"bad-{case}")
    task = sim.deploy(_broken(sim, name, change))
    assert task["state"] == "error", task
    assert fragment in task["result"]
    errors = [e for e in sim.task_events(task["id"]) if "error" in e]
    assert errors and fragment in errors[-1]["error"]["message"]
    assert isinstance(errors[-1]["error"]["code"], int)


def test_latest_resolves_to_highest_uploaded_version(sim):
    name = unique("latest")
    task = sim.deploy(manifest(sim, name, releases=[{"name": "cf", "version": "latest"}]))
    assert task["state"] == "done", task
    deps = {d["name"]: d for d in sim.bosh("GET", "/deployments").json()}
    assert deps[name]["releases"] == [{"name": "cf", "version": "231"}]
    assert sim.bosh("DELETE", f"/deployments/{name}").status_code == 302


# ---------------------------------------------------------------------- update ordering


def _group(name: str, n: int, serial: bool, canaries: int = 1, mif: int = 1) -> dict[str, Any]:
    return {"name": name, "templates": [{"name": "metron_agent"}], "instances": n, "resource_pool": "small",
            "networks": [{"name": "net"}],
            "update": {"serial": serial, "canaries": canaries, "max_in_flight": mif}}


def _positions(events, group: str, state: str) -> list[int]:
    return [i for i, e in enumerate(events) if e.get("stage") == "Updating instance" and e["tags"] == [group]
            and e["state"] == state]


def test_serial_groups_wait_and_canary_goes_first(sim):
    name = unique("serial")
    task = sim.deploy(manifest(sim, name, groups=[_group("one", 3, True), _group("two", 1, True)]))
    assert task["state"] == "done", task
    events = sim.task_events(task["id"])
    one_started, one_finished = _positions(events, "one", "started"), _positions(events, "one", "finished")
    two_started = _positions(events, "two", "started")
    # canary finishes before any other instance of the group starts (max_in_flight 1: one at a time)
    assert one_finished[0] < one_started[1]
    assert one_finished[1] < one_started[2]
    # serial: the next group starts after the last instance of the previous one
    assert two_started[0] > max(one_finished)


def test_non_serial_groups_update_in_parallel_with_max_in_flight(sim):
    name = unique("parallel")
    groups = [_group("par-a", 3, False, canaries=1, mif=2), _group("par-b", 3, False, canaries=1, mif=2)]
    task = sim.deploy(manifest(sim, name, groups=groups))
    assert task["state"] == "done", task
    events = sim.task_events(task["id"])
    a_started, a_finished = _positions(events, "par-a", "started"), _positions(events, "par-a", "finished")
    b_started = _positions(events, "par-b", "started")
    assert b_started[0] < max(a_finished)  # b does not wait for a
    # after the canary, two instances of a are in flight at once
    assert a_started[2] < a_finished[1]
    assert a_finished[0] < a_started[1]  # but the canary first


def test_instance_count_decrease_deletes_instances(sim):
    name = unique("shrink")
    doc = manifest(sim, name, groups=[_group("g", 3, True)])
    assert sim.deploy(doc)["state"] == "done"
    doc["jobs"][0]["instances"] = 1
    task = sim.deploy(doc)
    assert task["state"] == "done"
    assert [(i["job"], i["index"]) for i in instances(sim, name)] == [("g", 0)]
    deleting = [e for e in sim.task_events(task["id"]) if e.get("stage") == "Deleting unneeded instances"]
    assert len([e for e in deleting if e["state"] == "finished"]) == 2
    assert updating(sim.task_events(task["id"])) == []


# ---------------------------------------------------------------------- job state changes


def _state(sim, path: str, state: str, **params: Any) -> dict[str, Any]:
    resp = sim.bosh("PUT", path, params={"state": state, **params}, data="", headers={"Content-Type": "text/yaml"})
    return sim.wait_task(task_id(resp))


def test_stop_start_one_instance_and_all(sim, deployed):
    name, _, _ = deployed
    task = _state(sim, f"/deployments/{name}/jobs/alpha/1", "stopped")
    assert task["state"] == "done" and task["description"] == "create deployment"
    by_key = {(f["job_name"], f["index"]): f for f in full_state(sim, name)}
    assert by_key[("alpha", 1)]["job_state"] == "stopped" and by_key[("alpha", 1)]["state"] == "stopped"
    assert by_key[("alpha", 1)]["vm_cid"] is not None  # soft stop keeps the VM
    assert by_key[("alpha", 0)]["job_state"] == "running"
    task = _state(sim, f"/deployments/{name}/jobs/*", "started")
    assert task["state"] == "done"
    started = [e for e in updating(sim.task_events(task["id"])) if e["state"] == "started"]
    assert len(started) == 1 and "(1)" in started[0]["task"]  # only the stopped one changes
    assert {f["job_state"] for f in full_state(sim, name)} == {"running"}


def test_stop_by_uuid_then_detach_and_recreate(sim, deployed):
    name, _, _ = deployed
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
    assert len([e for e in updating(sim.task_events(task["id"])) if e["state"] == "finished"]) == 2


def test_state_change_errors(sim, deployed):
    name, _, _ = deployed
    yaml_hdr = {"Content-Type": "text/yaml"}
    missing = sim.bosh("PUT", "/deployments/nope-nope/jobs/*", params={"state": "stopped"}, headers=yaml_hdr)
    assert (missing.status_code, missing.json()["code"]) == (404, 70000)
    no_inst = sim.bosh("PUT", f"/deployments/{name}/jobs/alpha/7", params={"state": "stopped"}, headers=yaml_hdr)
    assert (no_inst.status_code, no_inst.json()["code"]) == (404, 70001)
    assert no_inst.json()["description"] == f"'{name}/alpha/7' doesn't exist"
    bad = sim.bosh("PUT", f"/deployments/{name}/jobs/alpha/xyz", params={"state": "stopped"}, headers=yaml_hdr)
    assert (bad.status_code, bad.json()["code"]) == (400, 70002)


# ---------------------------------------------------------------------- delete, faults, cancel


def test_delete_deployment(sim):
    name = unique("delete")
    assert sim.deploy(manifest(sim, name, groups=[_group("g", 2, True)]))["state"] == "done"
    task = sim.wait_task(task_id(sim.bosh("DELETE", f"/deployments/{name}")))
    assert task["state"] == "done" and task["description"] == f"delete deployment {name}"
    assert sim.bosh("GET", f"/deployments/{name}").json()["code"] == 70000
    assert name not in {d["name"] for d in sim.bosh("GET", "/deployments").json()}
    again = sim.bosh("DELETE", f"/deployments/{name}")
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


def test_fail_next_task_fault(sim):
    name = unique("fail")
    sim.inject_fault("fail_next_task", name, params={"message": "simulated canary failure"})
    task = sim.deploy(manifest(sim, name, groups=[_group("g", 1, True)]))
    assert task["state"] == "error"
    assert task["result"] == "simulated canary failure"
    assert sim.task_events(task["id"])[-1]["error"]["message"] == "simulated canary failure"
    assert sim.deploy(manifest(sim, name, groups=[_group("g", 1, True)]))["state"] == "done"  # one-shot


def test_cancel_next_task_fault(sim):
    name = unique("cancelfault")
    sim.inject_fault("cancel_next_task", name)
    task = sim.deploy(manifest(sim, name, groups=[]))
    assert (task["state"], task["result"]) == ("cancelled", "task cancelled")


def test_delay_fault_and_cancel_endpoint(sim):
    name = unique("delay")
    sim.inject_fault("delay_next_task", name, params={"seconds": 30})
    resp = sim.post_yaml("/deployments", manifest(sim, name, groups=[]))
    tid = task_id(resp)
    for _ in range(100):
        if sim.bosh("GET", f"/tasks/{tid}").json()["state"] == "processing":
            break
        time.sleep(0.05)
    cancel = sim.bosh("DELETE", f"/task/{tid}")
    assert cancel.status_code == 204
    task = sim.wait_task(tid, timeout=10)
    assert task["state"] == "cancelled"
    late = sim.bosh("DELETE", f"/task/{tid}")
    assert late.status_code == 400
    assert late.text == f"Cannot cancel task {tid}: invalid state (cancelled)"


def test_tasks_listing(sim, deployed):
    name, _, task = deployed
    listed = sim.bosh("GET", "/tasks", params={"deployment": name, "limit": 50}).json()
    assert task["id"] in {t["id"] for t in listed}
    ids = [t["id"] for t in listed]
    assert ids == sorted(ids, reverse=True)


# ---------------------------------------------------------------------- uploads


def _tarball(member: str, doc: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = yaml.safe_dump(doc).encode()
        info = tarfile.TarInfo(f"./{member}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_release_tarball_upload_and_deploy(sim):
    rel = unique("myrel")
    data = _tarball("release.MF", {"name": rel, "version": "1.2", "commit_hash": "abc123",
                                   "uncommitted_changes": False, "jobs": [{"name": "web"}, {"name": "worker"}]})
    resp = sim.bosh("POST", "/releases", data=data, headers={"Content-Type": "application/x-compressed"})
    task = sim.wait_task(task_id(resp))
    assert task["state"] == "done", task
    releases = {r["name"]: r for r in sim.bosh("GET", "/releases").json()}
    version = releases[rel]["release_versions"][0]
    assert (version["version"], version["commit_hash"], version["job_names"]) == ("1.2", "abc123", ["web", "worker"])
    name = unique("myrel-dep")
    doc = manifest(sim, name, releases=[{"name": rel, "version": "latest"}],
                   groups=[{"name": "w", "templates": [{"name": "web", "release": rel}], "instances": 1,
                            "resource_pool": "small", "networks": [{"name": "net"}]}])
    assert sim.deploy(doc)["state"] == "done"


def test_release_upload_by_location(sim, tmp_path):
    rel = unique("filerel")
    path = tmp_path / "r.tgz"
    path.write_bytes(_tarball("release.MF", {"name": rel, "version": "3", "jobs": [{"name": "j"}]}))
    ok = sim.wait_task(task_id(sim.bosh("POST", "/releases", json={"location": path.as_uri()})))
    assert ok["state"] == "done"
    assert rel in {r["name"] for r in sim.bosh("GET", "/releases").json()}
    remote = sim.wait_task(task_id(sim.bosh(
        "POST", "/releases", json={"location": "https://bosh.io/d/github.com/cloudfoundry/cf-release?v=220"})))
    assert remote["state"] == "error" and "file://" in remote["result"]
    garbage = sim.wait_task(task_id(sim.bosh("POST", "/releases", data=b"not a tarball",
                                             headers={"Content-Type": "application/x-compressed"})))
    assert garbage["state"] == "error"


def test_stemcell_upload(sim):
    data = _tarball("stemcell.MF", {"name": "bosh-test-stemcell", "version": "42", "operating_system": "ubuntu-x"})
    task = sim.wait_task(task_id(sim.bosh("POST", "/stemcells", data=data,
                                          headers={"Content-Type": "application/x-compressed"})))
    assert task["state"] == "done", task
    stemcells = {(s["name"], s["version"]): s for s in sim.bosh("GET", "/stemcells").json()}
    assert stemcells[("bosh-test-stemcell", "42")]["operating_system"] == "ubuntu-x"


def test_non_converging_instance_actions(sim):
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


def test_multipart_upload_of_a_large_tarball(sim):
    rel = unique("bigrel")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data in (("release.MF", yaml.safe_dump({"name": rel, "version": "7", "jobs": [{"name": "x"}]})
                              .encode()), ("packages/blob.tgz", bytes(range(256)) * 40000)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = sim.bosh("POST", "/releases", files={"release": ("r.tgz", buf.getvalue(), "application/x-compressed")})
    assert sim.wait_task(task_id(resp))["state"] == "done"
    assert {"version": "7"}.items() <= {
        r["name"]: r for r in sim.bosh("GET", "/releases").json()}[rel]["release_versions"][0].items()
