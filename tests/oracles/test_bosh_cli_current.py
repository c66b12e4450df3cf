"""The real bosh CLI v7.1.2 against a director of today (`--director-era current`).

Each command is its own test, named after it, run in the order a user would (deploy first,
delete last) against the generated V0 Diego database deployment. Every one must pass: a
director of today serves everything the CLI asks for (`/diff`, `/instances`, `/events`,
UAA tokens, ...). The VMs have their own addresses in the test's network namespace, so
`bosh ssh` reaches the VM's sshd at <VM ip>:22 with the key it generated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.oracles.v0_deployment import (
    DEPLOYMENT,
    GROUP,
    JOBS,
    generate_v0,
    locks_while_running,
    ok,
    tarball_members,
    the_vm,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def env(oracle_env: Any) -> Any:
    return oracle_env(director_era="current", vm_network_native=True, preload=("v0",))


@pytest.fixture(scope="module")
def manifest(env: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    uuid = env.bosh_json("env")[0]["uuid"]
    return generate_v0(uuid, tmp_path_factory.mktemp("v0"))


def _instances(env: Any) -> list[dict[str, str]]:
    return env.bosh_json("instances", "--ps", deployment=DEPLOYMENT)


def test_env(env: Any) -> None:
    row = env.bosh_json("env")[0]
    assert (row["name"], row["version"], row["cpi"]) == ("Bosh Lite Director", "283.1.6 (00000000)", "warden_cpi")
    assert row["user"] == env.config["bosh"]["client"]  # authenticated through the director's UAA


def test_deploy(env: Any, manifest: Path) -> None:
    result = ok(env.bosh("deploy", str(manifest), deployment=DEPLOYMENT))
    assert f"Updating instance {GROUP}: {GROUP}/" in result.stdout
    assert "(0) (canary)" in result.stdout


def test_deployments(env: Any) -> None:
    rows = {r["name"]: r for r in env.bosh_json("deployments")}
    assert DEPLOYMENT in rows
    assert rows[DEPLOYMENT]["release_s"].split("\n") == ["cf/220", "diego/0.1434.0", "garden-linux/0.307.0"]
    assert rows[DEPLOYMENT]["stemcell_s"] == "bosh-warden-boshlite-ubuntu-trusty-go_agent/2776"


def test_instances_ps(env: Any) -> None:
    rows = _instances(env)
    instance = rows[0]["instance"]
    assert instance.startswith(f"{GROUP}/") and len(instance) == len(GROUP) + 37  # group/<uuid>
    assert rows[0]["process_state"] == "running" and rows[0]["ips"].startswith("10.244.")
    assert {r["process"]: r["process_state"] for r in rows[1:]} == {job: "running" for job in JOBS}


def test_vms_vitals(env: Any) -> None:
    rows = env.bosh_json("vms", "--vitals", deployment=DEPLOYMENT)
    assert len(rows) == 1
    vm = rows[0]
    assert vm["vm_cid"].startswith("vm-") and vm["process_state"] == "running"
    assert vm["load_1m_5m_15m"] == "0.01, 0.02, 0.00" and vm["memory_usage"].startswith("12%")
    assert vm["stemcell"] == "bosh-warden-boshlite-ubuntu-trusty-go_agent/2776"


def test_tasks_recent(env: Any) -> None:
    rows = env.bosh_json("tasks", "--recent")
    deploys = [r for r in rows if r["description"] == "create deployment" and r["state"] == "done"]
    assert deploys and all(r["deployment"] == DEPLOYMENT for r in deploys)
    filtered = env.bosh_json("tasks", "--recent", deployment="no-such-deployment")
    assert filtered == []  # the director filters by deployment


def test_task_debug(env: Any) -> None:
    first = min(int(r["id"]) for r in env.bosh_json("tasks", "--recent"))
    result = ok(env.bosh("task", str(first), "--debug"))
    assert f"DirectorJobRunner: Starting task: {first}" in result.stdout
    assert f"Task {first} done" in result.stdout


def test_stop(env: Any) -> None:
    vm_before = the_vm(env)["vm_cid"]
    ok(env.bosh("stop", deployment=DEPLOYMENT))  # every instance group: `PUT .../jobs/*`, empty body
    rows = _instances(env)
    assert {r["process_state"] for r in rows} == {"stopped"}
    assert the_vm(env)["vm_cid"] == vm_before  # a soft stop keeps the VM


def test_start(env: Any) -> None:
    ok(env.bosh("start", deployment=DEPLOYMENT))
    assert {r["process_state"] for r in _instances(env)} == {"running"}


def test_restart(env: Any) -> None:
    result = ok(env.bosh("restart", GROUP, deployment=DEPLOYMENT))
    assert "L stopping jobs" in result.stdout and "L starting jobs" in result.stdout
    assert {r["process_state"] for r in _instances(env)} == {"running"}


def test_recreate(env: Any) -> None:
    before = the_vm(env)["vm_cid"]
    ok(env.bosh("recreate", f"{GROUP}/0", deployment=DEPLOYMENT))
    after = the_vm(env)
    assert after["vm_cid"] != before and after["process_state"] == "running"


def test_ssh(env: Any) -> None:
    result = ok(env.bosh("ssh", GROUP, "-c", "echo ssh-works-$((6*7)); head -1 sys/log/etcd/etcd_ctl.log",
                          deployment=DEPLOYMENT))
    assert "stdout | ssh-works-42" in result.stdout
    assert "started etcd (diego/0.1434.0)" in result.stdout  # ran on the VM's disk
    ssh_tasks = [r for r in env.bosh_json("tasks", "--recent", "--all") if r["description"].startswith("ssh: ")]
    assert [r["description"].split(":")[1] for r in ssh_tasks[:2]] == [" cleanup", " setup"]
    setup = ssh_tasks[1]
    answer = json.loads(ok(env.bosh("task", setup["id"], "--result")).stdout.strip().splitlines()[0])
    assert answer[0]["status"] == "success" and answer[0]["job"] == GROUP and answer[0]["index"] == 0
    assert answer[0]["host_public_key"].startswith("ssh-rsa ")  # today's agent sends it: strict checking works


def test_logs(env: Any, tmp_path: Path) -> None:
    ok(env.bosh("logs", f"{GROUP}/0", "--dir", str(tmp_path), deployment=DEPLOYMENT))
    tarballs = list(tmp_path.glob("*.tgz"))
    assert len(tarballs) == 1 and tarballs[0].name.startswith(f"{DEPLOYMENT}.{GROUP}.0-")
    members = tarball_members(tarballs[0])
    assert {f"./{job}/{job}_ctl.log" for job in JOBS} <= set(members)
    etcd = members["./etcd/etcd_ctl.log"]
    assert "started etcd" in etcd and "stopped etcd" in etcd  # the stop/start/recreate above


def test_events(env: Any) -> None:
    deployment_events = env.bosh_json("events", "--object-type", "deployment", deployment=DEPLOYMENT)
    assert {r["action"] for r in deployment_events} >= {"create", "update"}
    assert all(r["object_name"] == DEPLOYMENT for r in deployment_events)
    ends = [r for r in deployment_events if " <- " in r["id"]]  # an end event points at its begin event
    assert ends and all(r["task_id"] for r in ends)
    stops = env.bosh_json("events", "--action", "stop", deployment=DEPLOYMENT)
    assert stops and all(r["object_type"] == "instance" and r["instance"].startswith(f"{GROUP}/") for r in stops)
    assert env.bosh_json("events", "--action", "setup ssh")


def test_locks(env: Any) -> None:
    assert env.bosh_json("locks") == []
    rows = locks_while_running(env, "restart")
    assert rows, "no lock seen while `bosh restart` ran"
    assert (rows[0]["type"], rows[0]["resource"]) == ("deployment", DEPLOYMENT)
    assert rows[0]["task_id"].isdigit()
    assert env.bosh_json("locks") == []


def test_manifest(env: Any, manifest: Path) -> None:
    result = ok(env.bosh("manifest", deployment=DEPLOYMENT))
    assert yaml.safe_load(result.stdout) == yaml.safe_load(manifest.read_text())


def test_delete_deployment(env: Any) -> None:
    ok(env.bosh("delete-deployment", deployment=DEPLOYMENT))
    assert DEPLOYMENT not in {r["name"] for r in env.bosh_json("deployments")}
    gone = env.bosh("instances", deployment=DEPLOYMENT)
    assert gone.returncode != 0 and f"Deployment '{DEPLOYMENT}' doesn't exist" in gone.output

