"""The director's models in-process: world bus events, live instance views, failures of hooks,
IP allocation and the release catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.catalog import load_catalog
from simulator.director.api import range_response, skip_drain_param
from simulator.director.era import ERA_2015, ERA_CURRENT
from simulator.director.models import Director
from simulator.director.state import version_key
from simulator.world import PROFILES, World

STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "latest"}
SHARED_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "docs" / "release-catalog.yml"


@pytest.fixture
def world(tmp_path) -> World:
    return World(profile=PROFILES["fast"], state_dir=tmp_path)


@pytest.fixture
def director(world) -> Director:
    """Today's director: the update engine is the same in both eras, and today's takes an
    empty body for job-level state changes (1.3098's own rules: the `era2015` fixture)."""
    d = Director(world, "admin", "secret", era=ERA_CURRENT)
    d.preload(["v0", "v_prime"])
    yield d
    d.close()


@pytest.fixture
def era2015(world) -> Director:
    d = Director(world, "admin", "secret", era=ERA_2015)
    d.preload(["v0"])
    yield d
    d.close()


@pytest.fixture
def events(world) -> list[tuple[str, str, int, str, str]]:
    seen: list[tuple[str, str, int, str, str]] = []
    for name in ("drain", "stopped", "started", "deleted"):
        world.bus.subscribe(name, lambda v, n=name: seen.append(
            (n, v.group, v.index, v.job_state, v.release_version("cf") or "")))
    return seen


def manifest(d: Director, name: str, cf: str = "220", instances: int = 2, **group: Any) -> str:
    doc = {
        "name": name, "director_uuid": d.uuid, "releases": [{"name": "cf", "version": cf}],
        "networks": [{"name": "n", "subnets": [{"range": "10.244.40.0/24", "reserved": ["10.244.40.1"],
                                                "static": ["10.244.40.2 - 10.244.40.9"]}]}],
        "resource_pools": [{"name": "p", "network": "n", "stemcell": STEMCELL}],
        "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1, "update_watch_time": 1},
        "jobs": [{"name": "g", "templates": [{"name": "metron_agent"}], "instances": instances,
                  "resource_pool": "p", "networks": [{"name": "n"}], **group}],
    }
    return yaml.safe_dump(doc)


def run(task) -> Any:
    assert task.wait_finished(20)
    return task


def test_deploy_emits_started_and_views_are_live(director, world, events):
    task = run(director.submit_deploy(manifest(director, "d"), "admin", {}))
    assert task.state == "done", task.result
    assert [(e[0], e[2], e[3]) for e in events] == [("started", 0, "running"), ("started", 1, "running")]
    views = world.instances()
    assert {(v.group, v.index) for v in views} == {("g", 0), ("g", 1)}
    assert world.component_up("metron_agent") and not world.component_up("gorouter")
    v0 = next(v for v in views if v.index == 0)
    events.clear()
    task = run(director.submit_deploy(manifest(director, "d", cf="231"), "admin", {}))
    assert task.state == "done", task.result
    # per instance: drain (old version, still running) -> stopped -> started with the new version
    assert events[:3] == [("drain", "g", 0, "running", "220"), ("stopped", "g", 0, "stopped", "220"),
                          ("started", "g", 0, "running", "231")]
    assert v0.release_version("cf") == "231"  # the same object was updated in place
    assert v0 in world.instances()


def test_soft_stop_keeps_vm_and_detach_deletes_it(director, world, events):
    run(director.submit_deploy(manifest(director, "d", instances=1), "admin", {}))
    events.clear()
    run(director.submit_state_change("d", "g", "0", "stopped", "", "admin", {}))
    inst = director.get_deployment("d").instances[0]
    assert [e[0] for e in events] == ["drain", "stopped"]
    assert (inst.view.state, inst.view.job_state, inst.vm_cid is not None) == ("stopped", "stopped", True)
    assert not world.component_up("metron_agent")
    run(director.submit_state_change("d", "*", None, "detached", "", "admin", {}))
    assert (inst.view.state, inst.vm_cid) == ("detached", None)
    run(director.submit_state_change("d", "*", None, "started", "", "admin", {}))
    assert inst.view.running and inst.vm_cid is not None


def test_skip_drain(director, events):
    run(director.submit_deploy(manifest(director, "d", instances=1), "admin", {}))
    events.clear()
    run(director.submit_state_change("d", "*", None, "stopped", "", "admin", {"skip_drain": True}))
    assert [e[0] for e in events] == ["stopped"]


def test_skip_drain_param_is_boshs_skip_drain():
    """`SkipDrain.new(param)` (1.3098 and today): `*` is all, else a list of group names, so
    `true` names a group called "true" and skips nothing else."""
    assert skip_drain_param("*") is True and skip_drain_param(None) is False and skip_drain_param("") is False
    assert skip_drain_param("true") == frozenset({"true"})
    assert skip_drain_param("g,other") == frozenset({"g", "other"})


def test_skip_drain_for_named_groups_only(director, events):
    run(director.submit_deploy(manifest(director, "d", instances=1), "admin", {}))
    events.clear()
    run(director.submit_state_change("d", "*", None, "stopped", "", "admin", {"skip_drain": frozenset({"other"})}))
    assert [e[0] for e in events] == ["drain", "stopped"]  # g is not named: it drains
    run(director.submit_state_change("d", "*", None, "started", "", "admin", {}))
    events.clear()
    run(director.submit_state_change("d", "*", None, "stopped", "", "admin", {"skip_drain": frozenset({"g"})}))
    assert [e[0] for e in events] == ["stopped"]


def test_removed_instances_emit_deleted(director, world, events):
    run(director.submit_deploy(manifest(director, "d", instances=2), "admin", {}))
    events.clear()
    run(director.submit_deploy(manifest(director, "d", instances=1), "admin", {}))
    assert [(e[0], e[2]) for e in events] == [("drain", 1), ("stopped", 1), ("deleted", 1)]
    assert [v.index for v in world.instances()] == [0]
    events.clear()
    task = run(director.submit_delete("d", "admin"))
    assert task.state == "done"
    assert [(e[0], e[2]) for e in events] == [("drain", 0), ("stopped", 0), ("deleted", 0)]
    assert world.instances() == []


def test_hook_failure_fails_the_task_with_the_reason(director, world):
    run(director.submit_deploy(manifest(director, "d", instances=2), "admin", {}))

    def broken_drain(view):
        raise RuntimeError("evacuation did not finish")

    world.bus.subscribe("drain", broken_drain)
    task = run(director.submit_deploy(manifest(director, "d", cf="231"), "admin", {}))
    assert task.state == "error"
    assert "evacuation did not finish" in task.result
    lines = [yaml.safe_load(line) for line in task.output("event").decode().splitlines()]
    failed = [e for e in lines if e.get("state") == "failed"]
    assert len(failed) == 1 and "(canary)" in failed[0]["task"]  # the canary failed; nothing else started
    assert "evacuation did not finish" in lines[-1]["error"]["message"]
    starts = [e for e in lines if e.get("stage") == "Updating instance" and e["state"] == "started"]
    assert len(starts) == 1


def test_dynamic_ips_skip_reserved_and_static_and_are_stable(director):
    run(director.submit_deploy(manifest(director, "d", instances=2), "admin", {}))
    ips = {i.view.index: i.view.ips for i in director.get_deployment("d").instances}
    assert ips == {0: ["10.244.40.10"], 1: ["10.244.40.11"]}
    run(director.submit_deploy(manifest(director, "e", instances=1).replace("name: d", "name: e"), "admin", {}))
    other = director.get_deployment("e").instances[0].view.ips
    assert other == ["10.244.40.12"]  # no address is shared between deployments
    run(director.submit_deploy(manifest(director, "d", instances=3), "admin", {}))
    again = {i.view.index: i.view.ips for i in director.get_deployment("d").instances}
    assert again[0] == ips[0] and again[1] == ips[1] and again[2] == ["10.244.40.13"]


def test_static_ip_count_must_match_instances(director):
    text = manifest(director, "d", instances=2, networks=[{"name": "n", "static_ips": ["10.244.40.3"]}])
    task = run(director.submit_deploy(text, "admin", {}))
    assert task.state == "error" and "has 2 instances but was allocated 1 static IPs" in task.result


def test_v2_manifest_with_azs(director):
    doc = {"name": "v2", "releases": [{"name": "cf", "version": "latest"}],
           "stemcells": [{"alias": "default", "os": "ubuntu-trusty", "version": "latest"}],
           "update": {"canaries": 1, "max_in_flight": "50%", "canary_watch_time": 1, "update_watch_time": 1},
           "instance_groups": [{"name": "ig", "azs": ["z1", "z2"], "instances": 2, "vm_type": "default",
                                "stemcell": "default", "jobs": [{"name": "nats", "release": "cf",
                                                                 "properties": {"nats": {"port": 4222}}}]}]}
    task = run(director.submit_deploy(yaml.safe_dump(doc), "admin", {}))
    assert task.state == "done", task.result
    insts = director.get_deployment("v2").instances
    assert sorted(i.az for i in insts) == ["z1", "z2"]
    assert all(i.view.properties["nats"]["port"] == 4222 for i in insts)
    assert all(i.view.template("nats").release_version == "231" for i in insts)


def test_properties_are_global_deep_merged_with_job(director):
    doc = yaml.safe_load(manifest(director, "d", instances=1, properties={"a": {"y": 2}}))
    doc["properties"] = {"a": {"x": 1, "y": 1}, "b": True}
    run(director.submit_deploy(yaml.safe_dump(doc), "admin", {}))
    assert director.get_deployment("d").instances[0].view.properties == {"a": {"x": 1, "y": 2}, "b": True}


def test_version_ordering():
    assert max(["0.1434.0", "0.1454.0", "0.999.0"], key=version_key) == "0.1454.0"
    assert max(["220", "231", "99"], key=version_key) == "231"
    assert max(["9", "9.1"], key=version_key) == "9.1"


@pytest.mark.parametrize(("header", "status", "body", "content_range"), [
    (None, 200, b"0123456789", None),
    ("bytes=4-", 206, b"456789", "bytes 4-9/10"),
    ("bytes=2-3", 206, b"23", "bytes 2-3/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=10-", 416, b"Byte range unsatisfiable", "bytes */10"),
    ("bytes=0-1,4-5", 200, b"0123456789", None),
])
def test_range_response(header, status, body, content_range):
    resp = range_response(b"0123456789", header)
    assert resp.status_code == status
    assert resp.get_data() == body
    assert resp.headers.get("Content-Range") == content_range


def test_range_response_empty_and_missing():
    assert range_response(b"", "bytes=0-").status_code == 200
    assert range_response(None, "bytes=0-").status_code == 204


def test_catalog_matches_shared_release_catalog():
    assert SHARED_CATALOG.exists(), f"{SHARED_CATALOG} is missing: the conformance data lives in ../shared/ beside the checkout"
    shared = yaml.safe_load(SHARED_CATALOG.read_text())
    ours = load_catalog().to_shared_format()
    norm = {"releases": {n: {str(v): list(j) for v, j in vs.items()} for n, vs in shared["releases"].items()},
            "stemcell": {k: str(v) for k, v in shared["stemcell"].items()},
            "version_sets": {n: {r: str(v) for r, v in vs.items()} for n, vs in shared["version_sets"].items()}}
    assert ours == norm


def test_preload_uploads_version_sets(director):
    assert set(director.releases["cf"]) == {"220", "231"}
    assert set(director.releases["diego"]) == {"0.1434.0", "0.1454.0"}
    assert "etcd" in director.releases and len(director.stemcells) == 1
    assert "rep" in director.releases["diego"]["0.1434.0"].jobs


def test_concurrent_deploys_never_share_an_ip(director):
    texts = [manifest(director, name, instances=3).replace("name: d\n", f"name: {name}\n") for name in "xyz"]
    tasks = [director.submit_deploy(t, "admin", {}) for t in texts]
    for t in tasks:
        run(t)
        assert t.state == "done", t.result
    ips = [ip for name in "xyz" for i in director.get_deployment(name).instances for ip in i.view.ips]
    assert len(ips) == 9 and len(set(ips)) == 9
    assert director.pending_ips == {}


def _stages(task) -> list[str]:
    lines = [yaml.safe_load(line) for line in task.output("event").decode().splitlines()]
    return [e["stage"] for e in lines if "stage" in e and e["state"] == "started"]


def test_packages_compile_once_per_release_version(director):
    first = run(director.submit_deploy(manifest(director, "d", instances=1), "admin", {}))
    assert "Compiling packages" in _stages(first)
    assert _stages(first).count("Preparing deployment") == 9  # Binding deployment ... Binding instance networks
    again = run(director.submit_deploy(manifest(director, "d", instances=2), "admin", {}))
    assert "Compiling packages" not in _stages(again)
    newer = run(director.submit_deploy(manifest(director, "d", cf="231", instances=2), "admin", {}))
    assert "Compiling packages" in _stages(newer)


# ---------------------------------------------------------------------- 1.3098's own rules


def test_2015_job_level_change_reads_the_manifest_from_the_body(era2015, events):
    run(era2015.submit_deploy(manifest(era2015, "d", instances=1), "admin", {}))
    events.clear()
    empty = run(era2015.submit_state_change("d", "g", None, "stopped", "", "admin", {}))
    assert (empty.state, empty.result) == ("error", "undefined method `[]' for false:FalseClass")
    assert events == []
    with_manifest = run(era2015.submit_state_change("d", "g", None, "stopped", manifest(era2015, "d", instances=1),
                                                    "admin", {}))
    assert with_manifest.state == "done", with_manifest.result
    assert [e[0] for e in events] == ["drain", "stopped"]


def test_2015_instance_level_change_skips_the_drain_of_its_job(era2015, events):
    """1.3098 sets `'skip_drain' => params[:job]` for every instance-level change (a bug fixed
    in 1.3146): the API layer passes the job as the skip_drain list."""
    from werkzeug.test import Client

    from simulator.director.api import DirectorApp

    run(era2015.submit_deploy(manifest(era2015, "d", instances=1), "admin", {}))
    events.clear()
    client = Client(DirectorApp(era2015))
    auth = {"Authorization": "Basic YWRtaW46c2VjcmV0"}  # admin:secret
    resp = client.put("/deployments/d/jobs/g/0?state=stopped", headers={**auth, "Content-Type": "text/yaml"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tasks/2")
    assert run(era2015.task(2)).state == "done"
    assert [e[0] for e in events] == ["stopped"]  # no drain
    run(era2015.submit_state_change("d", "g", "0", "started", "", "admin", {}))
    events.clear()
    job_level = client.put("/deployments/d/jobs/g?state=stopped&skip_drain=true", data=manifest(era2015, "d", instances=1),
                           headers={**auth, "Content-Type": "text/yaml"})
    assert run(era2015.task(int(job_level.headers["Location"].rsplit("/", 1)[-1]))).state == "done"
    assert [e[0] for e in events] == ["drain", "stopped"]  # job level: skip_drain is ignored
