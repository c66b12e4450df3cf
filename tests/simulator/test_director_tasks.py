"""Director task rules beyond the happy path (wire-contracts §2.5): the deployment lock (a
second change of a busy deployment waits, then fails like `Failed to acquire lock for
lock:deployment:<name>`), `POST /tasks/cancel`, the truncated task `result`, and errand
instance groups (accepted, no VMs)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import yaml

from simulator.director.era import ERA_CURRENT
from simulator.director.models import Director
from simulator.director.tasks import truncate_result
from simulator.world import PROFILES, World

STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "latest"}


@pytest.fixture
def sim(sim_current):
    """These rules are today's director's (`/locks` task ids, `/tasks/cancel`, `/instances`,
    `expects_vm`); the shared lock and errand behaviour of 1.3098 is in test_director_api.py
    and test_director_era_2015.py."""
    return sim_current


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def manifest(uuid_: str, name: str, groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A small v1 manifest (dynamic IPs only, so deployments never fight over addresses)."""
    return {
        "name": name, "director_uuid": uuid_, "releases": [{"name": "cf", "version": 220}],
        "networks": [{"name": "net", "subnets": [{"range": "10.244.70.0/24", "gateway": "10.244.70.1",
                                                  "reserved": ["10.244.70.1"]}]}],
        "resource_pools": [{"name": "small", "network": "net", "stemcell": STEMCELL}],
        "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1000, "update_watch_time": 1000},
        "jobs": groups if groups is not None else [
            {"name": "alpha", "templates": [{"name": "metron_agent"}], "instances": 1, "resource_pool": "small",
             "networks": [{"name": "net"}]}],
    }


def sim_manifest(sim: Any, name: str, groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return manifest(sim.bosh("GET", "/info").json()["uuid"], name, groups)


def task_id(resp: Any) -> int:
    assert resp.status_code == 302, (resp.status_code, resp.text)
    return int(resp.headers["Location"].rsplit("/", 1)[-1])


def wait_state(sim: Any, tid: int, state: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = sim.bosh("GET", f"/tasks/{tid}").json()
        if task["state"] == state or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def hold_lock(sim: Any, name: str, seconds: float = 30) -> int:
    """Start a redeploy of `name` that holds its lock for `seconds` (cancel it to release)."""
    sim.inject_fault("delay_next_task", name, params={"seconds": seconds})
    tid = task_id(sim.post_yaml("/deployments", sim_manifest(sim, name)))
    assert wait_state(sim, tid, "processing")["state"] == "processing"
    return tid


# ---------------------------------------------------------------------- deployment lock


def test_a_second_change_waits_for_the_lock_and_runs_after_it(sim):
    name = unique("lock")
    assert sim.deploy(sim_manifest(sim, name))["state"] == "done"
    holder = hold_lock(sim, name)
    locks = sim.bosh("GET", "/locks").json()
    assert {"type": "deployment", "resource": [name], "task_id": str(holder)} in [
        {k: v for k, v in lock.items() if k != "timeout"} for lock in locks]
    listed = [d for d in sim.bosh("GET", "/deployments").json() if d["name"] == name]
    assert listed[0]["locked"] is True

    waiter = task_id(sim.bosh("PUT", f"/deployments/{name}/jobs/*", params={"state": "stopped"},
                              headers={"Content-Type": "text/yaml"}, data=b""))
    time.sleep(0.3)
    waiting = sim.bosh("GET", f"/tasks/{waiter}").json()
    assert waiting["state"] == "processing"  # a real director's job runs and waits for the lock
    assert not [e for e in sim.task_events(waiter) if e.get("stage") == "Updating instance"]

    assert sim.bosh("DELETE", f"/task/{holder}").status_code == 204
    assert sim.wait_task(holder)["state"] == "cancelled"
    assert sim.wait_task(waiter)["state"] == "done"
    assert not [lock for lock in sim.bosh("GET", "/locks").json() if lock["resource"] == [name]]
    states = {i["job_state"] for i in _full(sim, name)}
    assert states == {"stopped"}


def _full(sim: Any, name: str) -> list[dict[str, Any]]:
    task = sim.wait_task(sim.bosh("GET", f"/deployments/{name}/instances", params={"format": "full"})
                         .headers["Location"])
    body = sim.bosh("GET", f"/tasks/{task['id']}/output", params={"type": "result"}).text
    return [json.loads(line) for line in body.splitlines()]


def test_a_cancelled_waiter_never_runs(sim):
    name = unique("lockcancel")
    assert sim.deploy(sim_manifest(sim, name))["state"] == "done"
    holder = hold_lock(sim, name)
    waiter = task_id(sim.bosh("DELETE", f"/deployments/{name}"))
    assert wait_state(sim, waiter, "processing")["state"] == "processing"
    assert sim.bosh("DELETE", f"/task/{waiter}").status_code == 204
    assert sim.wait_task(waiter)["state"] == "cancelled"
    sim.bosh("DELETE", f"/task/{holder}")
    sim.wait_task(holder)
    assert sim.bosh("GET", f"/deployments/{name}").status_code == 200  # the delete never ran


@pytest.fixture
def director(tmp_path) -> Director:
    d = Director(World(profile=PROFILES["fast"], state_dir=tmp_path), "admin", "secret", era=ERA_CURRENT)
    d.preload(["v0"])
    yield d
    d.close()


def test_lock_timeout_fails_the_waiting_task_naming_the_holder(director):
    director.lock_timeout = 0.4
    name = "locked"
    director.world.faults.inject("delay_next_task", name, None, None, {"seconds": 30})
    holder = director.submit_deploy(yaml.safe_dump(manifest(director.uuid, name)), "admin", {})
    deadline = time.monotonic() + 5
    while director.lock_holder(name) is not holder and time.monotonic() < deadline:
        time.sleep(0.02)
    assert director.lock_holder(name) is holder
    started = time.monotonic()
    waiter = director.submit_deploy(yaml.safe_dump(manifest(director.uuid, name)), "admin", {})
    assert waiter.wait_finished(5)
    assert time.monotonic() - started >= 0.4
    assert waiter.state == "error"
    assert waiter.result.startswith(f"Failed to acquire lock for lock:deployment:{name} uid: ")
    assert f"Locking task id is {holder.id}" in waiter.result  # the rest is cut at 128 characters
    error = json.loads(bytes(waiter.outputs["event"]).splitlines()[-1])["error"]
    assert error["code"] == 100
    assert error["message"].endswith(f"Locking task id is {holder.id}, description: 'create deployment'")
    assert holder.state == "processing"
    holder.request_cancel()
    assert holder.wait_finished(5) and holder.state == "cancelled"
    assert director.lock_holder(name) is None


# ---------------------------------------------------------------------- POST /tasks/cancel


def test_cancel_tasks_by_filter(sim):
    mine, other = unique("cxl"), unique("cxl-other")
    for name in (mine, other):
        assert sim.deploy(sim_manifest(sim, name))["state"] == "done"
    t_mine, t_other = hold_lock(sim, mine), hold_lock(sim, other)
    try:
        # not JSON -> no such endpoint
        assert sim.bosh("POST", "/tasks/cancel", data=b"{}", headers={"Content-Type": "text/plain"}).status_code == 404
        bad = sim.bosh("POST", "/tasks/cancel", data=b"nope", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and bad.json()["code"] == 40000
        # default states = ["queued"]: our processing tasks stay
        assert sim.bosh("POST", "/tasks/cancel", json={"deployment": mine}).status_code == 204
        # a type that does not match
        assert sim.bosh("POST", "/tasks/cancel", json={"states": ["processing"], "types": ["delete_deployment"],
                                                      "deployment": mine}).status_code == 204
        time.sleep(0.2)
        assert sim.bosh("GET", f"/tasks/{t_mine}").json()["state"] == "processing"
        resp = sim.bosh("POST", "/tasks/cancel", json={"states": ["processing"], "types": ["update_deployment"],
                                                      "deployment": mine})
        assert resp.status_code == 204 and resp.content == b""
        assert sim.wait_task(t_mine)["state"] == "cancelled"
        assert sim.bosh("GET", f"/tasks/{t_other}").json()["state"] == "processing"
    finally:
        sim.bosh("DELETE", f"/task/{t_other}")
        sim.bosh("DELETE", f"/task/{t_mine}")
    assert sim.wait_task(t_other)["state"] == "cancelled"


# ---------------------------------------------------------------------- task result


@pytest.mark.parametrize("text, expected", [
    ("short", "short"),
    ("  padded  ", "padded"),
    ("x" * 128, "x" * 128),
    (("word " * 40).strip(), ("word " * 25).strip() + "..."),
    (None, None),
])
def test_truncate_result_like_the_job_runner(text, expected):
    assert truncate_result(text) == expected


def test_long_error_is_truncated_in_result_but_whole_in_events(sim):
    name = unique("trunc")
    message = "simulated failure " + " ".join(f"part{i}" for i in range(60))
    sim.inject_fault("fail_next_task", name, params={"message": message})
    task = sim.deploy(sim_manifest(sim, name))
    assert task["state"] == "error"
    assert task["result"].endswith("...") and len(task["result"]) <= 131
    assert message.startswith(task["result"][:-3])
    assert sim.task_events(task["id"])[-1]["error"]["message"] == message


# ---------------------------------------------------------------------- errands


def test_errand_groups_are_accepted_but_get_no_vms(sim):
    name = unique("errand")
    groups = [
        {"name": "svc", "templates": [{"name": "metron_agent"}], "instances": 2, "resource_pool": "small",
         "networks": [{"name": "net"}]},
        {"name": "smoke_tests", "templates": [{"name": "smoke-tests"}], "instances": 1, "lifecycle": "errand",
         "resource_pool": "small", "networks": [{"name": "net"}]},
    ]
    task = sim.deploy(sim_manifest(sim, name, groups))
    assert task["state"] == "done", task
    events = sim.task_events(task["id"])
    assert not [e for e in events if "smoke_tests" in str(e.get("task", "")) or "smoke_tests" in e.get("tags", [])]
    for kind in ("instances", "vms"):
        listed = sim.bosh("GET", f"/deployments/{name}/{kind}").json()
        assert sorted(i["job"] for i in listed) == ["svc", "svc"], (kind, listed)
        if kind == "vms":  # [NOW] vms listing keys
            assert all(i["active"] is True and i["permanent_nats_credentials"] is False for i in listed)
    # stopping and starting everything never brings the errand up
    for state in ("stopped", "started"):
        resp = sim.bosh("PUT", f"/deployments/{name}/jobs/*", params={"state": state},
                        headers={"Content-Type": "text/yaml"}, data=b"")
        assert sim.wait_task(resp.headers["Location"])["state"] == "done"
    assert sorted(i["job"] for i in sim.bosh("GET", f"/deployments/{name}/instances").json()) == ["svc", "svc"]
    assert sim.bosh("GET", f"/deployments/{name}/errands").json() == [{"name": "smoke_tests"}]


def _errand_deployment(sim: Any) -> str:
    name = unique("errandrun")
    groups = [
        {"name": "svc", "templates": [{"name": "metron_agent"}], "instances": 1, "resource_pool": "small",
         "networks": [{"name": "net"}]},
        {"name": "smoke_tests", "templates": [{"name": "smoke-tests"}], "instances": 1, "lifecycle": "errand",
         "resource_pool": "small", "networks": [{"name": "net"}]},
    ]
    assert sim.deploy(sim_manifest(sim, name, groups))["state"] == "done"
    return name


def _run_errand(sim: Any, name: str, errand: str, **body: Any) -> int:
    return task_id(sim.bosh("POST", f"/deployments/{name}/errands/{errand}/runs", json=body))


def test_running_an_errand_creates_its_vm_only_while_it_runs(sim):
    name = _errand_deployment(sim)
    seen_during: list[list[str]] = []
    tid = _run_errand(sim, name, "smoke_tests", **{"keep-alive": False})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = [i["job"] for i in sim.bosh("GET", f"/deployments/{name}/instances").json()]
        seen_during.append(jobs)
        if sim.bosh("GET", f"/tasks/{tid}").json()["state"] not in ("queued", "processing"):
            break
        time.sleep(0.02)
    task = sim.wait_task(tid)
    assert task["state"] == "done", task
    assert task["description"] == f"run errand smoke_tests from deployment {name}"
    assert task["result"] == "Errand 'smoke_tests' completed successfully (exit code 0)"
    assert any("smoke_tests" in jobs for jobs in seen_during)  # it had a VM while running
    result = [json.loads(line) for line in
              sim.bosh("GET", f"/tasks/{tid}/output", params={"type": "result"}).text.splitlines()]
    assert [(r["exit_code"], r["instance"]["group"]) for r in result] == [(0, "smoke_tests")]
    stages = {e.get("stage") for e in sim.task_events(tid)}
    assert {"Running errand", "Deleting errand instances"} <= stages
    assert [i["job"] for i in sim.bosh("GET", f"/deployments/{name}/instances").json()] == ["svc"]
    listed = sim.bosh("GET", "/tasks", params={"deployment": name}).json()
    assert any(t["id"] == tid for t in listed)  # run_errand is a user-facing task type

    kept = _run_errand(sim, name, "smoke_tests", **{"keep-alive": True})
    assert sim.wait_task(kept)["state"] == "done"
    listed = sim.bosh("GET", f"/deployments/{name}/instances").json()
    assert sorted((i["job"], i["expects_vm"]) for i in listed) == [("smoke_tests", False), ("svc", True)]


def test_expects_vm_follows_the_instance_state(sim):
    name = unique("expects")
    assert sim.deploy(sim_manifest(sim, name))["state"] == "done"
    for state, expected in (("stopped", True), ("detached", False), ("started", True)):
        resp = sim.bosh("PUT", f"/deployments/{name}/jobs/alpha/0", params={"state": state},
                        headers={"Content-Type": "text/yaml"}, data=b"")
        assert sim.wait_task(resp.headers["Location"])["state"] == "done"
        listed = sim.bosh("GET", f"/deployments/{name}/instances").json()
        assert [i["expects_vm"] for i in listed] == [expected], state
        vms = sim.bosh("GET", f"/deployments/{name}/vms").json()
        assert len(vms) == (0 if state == "detached" else 1)


def test_errand_errors(sim):
    name = _errand_deployment(sim)
    missing = sim.wait_task(_run_errand(sim, name, "nope"))
    assert missing["state"] == "error" and missing["result"] == "Errand 'nope' doesn't exist"
    service = sim.wait_task(_run_errand(sim, name, "svc"))
    assert service["state"] == "error" and "is not an errand" in service["result"]
    unknown = sim.bosh("POST", "/deployments/no-such-dep/errands/x/runs", json={})
    assert unknown.status_code == 404 and unknown.json()["code"] == 70000
    not_json = sim.bosh("POST", f"/deployments/{name}/errands/smoke_tests/runs", data=b"{}",
                        headers={"Content-Type": "text/yaml"})
    assert not_json.status_code == 404
