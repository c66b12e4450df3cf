"""The real bosh CLI v7.1.2 against the 2015 director (the default era, bosh 1.3098.0).

Every command runs. Where bosh v7 can complete it against a real 1.3098 director, it must
pass; where it cannot, the test asserts that it fails the way it fails against the real one
(read from bosh-cli v7.1.2's source and bosh 1.3098's; docs/architecture.md, Era: BOSH
director). What bosh v7 cannot do against 1.3098:
* `deploy`: it always asks `POST /deployments/:d/diff` first (cmd/deploy.go), a 404 there;
* `instances`: `GET /deployments/:d/instances?format=full`, a 404;
* `events`: `GET /events`, no such controller (Rack::URLMap's `Not Found: /events`);
* `stop`/`start`/`restart`/`recreate` of a whole deployment or instance group: v7 sends an
  empty body (director/deployment.go ChangeJobState); 1.3098 reads a job-level change's
  manifest from the body, and the task fails on the empty one. With an instance index
  (`group/0`) they work: an empty body there means the stored manifest;
* `ssh`: the stemcell-2776 agent sends no host key, and v7 runs OpenSSH with
  `StrictHostKeyChecking=yes` against an empty known-hosts file, so the connection is
  refused client-side unless the user overrides it (`--opts=-oStrictHostKeyChecking=no`).
The deployments themselves are made by the suite's own clients (helpers.bosh) inside the
namespace, which proves them against the 2015 director over the real path too.
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
    locks_while_running,
    ok,
    tarball_members,
    the_vm,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OTHER = "cf-warden-diego-cell1"  # a second deployment, to see that tasks are not filtered


@pytest.fixture(scope="module")
def env(oracle_env: Any) -> Any:
    return oracle_env(vm_network_native=True, preload=("v0",))  # the default director era: 2015


@pytest.fixture(scope="module")
def manifests(env: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The V0 database deployment (and cell1), generated and deployed by the suite's own
    clients inside the namespace (tests/oracles/deploy_set.py): bosh v7 cannot deploy here."""
    out = tmp_path_factory.mktemp("v0")
    result = env.python("tests.oracles.deploy_set", str(env.sim.config_path), str(out), "v0", "database", "cell1")
    assert result.returncode == 0, result.describe()
    assert set(json.loads(result.stdout).values()) == {DEPLOYMENT, OTHER}
    return out / "v0"


@pytest.fixture(scope="module")
def deployed(env: Any, manifests: Path) -> dict[str, int]:
    """deployment -> the id of the task that deployed it."""
    rows = env.bosh_json("tasks", "--recent")
    ids = sorted(int(r["id"]) for r in rows if r["description"] == "create deployment" and r["state"] == "done")
    assert len(ids) == 2, rows
    return {DEPLOYMENT: ids[0], OTHER: ids[1]}  # deployed in this order


def _fails(result: Any, *fragments: str) -> None:
    assert result.returncode != 0, result.describe()
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.describe())


NOT_FOUND_HTML = "response '<h1>Not Found</h1>'"  # Sinatra 1.4: no route matched
EMPTY_BODY_ERROR = "undefined method `[]' for false:FalseClass"


def test_env(env: Any) -> None:
    row = env.bosh_json("env")[0]
    assert (row["name"], row["version"], row["cpi"], row["user"]) == (
        "Bosh Lite Director", "1.3098.0 (00000000)", "warden_cpi", "admin")
    assert row["features"].split("\n") == ["compiled_package_cache: disabled", "dns: disabled", "snapshots: disabled"]


def test_deploy(env: Any, manifests: Path, deployed: dict[str, int]) -> None:
    before = env.bosh_json("tasks", "--recent", "--all")
    result = env.bosh("deploy", str(manifests / "database.yml"), deployment=DEPLOYMENT)
    _fails(result, "Fetching diff result", f"non-successful status code '404' {NOT_FOUND_HTML}")
    assert env.bosh_json("tasks", "--recent", "--all") == before  # it never got to POST /deployments


def test_deployments(env: Any, deployed: dict[str, int]) -> None:
    rows = {r["name"]: r for r in env.bosh_json("deployments")}
    assert set(rows) == {DEPLOYMENT, OTHER}
    assert rows[DEPLOYMENT]["release_s"].split("\n") == ["cf/220", "diego/0.1434.0", "garden-linux/0.307.0"]
    assert rows[DEPLOYMENT]["team_s"] == ""  # no teams in 2015


def test_instances_ps(env: Any, deployed: dict[str, int]) -> None:
    result = env.bosh("instances", "--ps", deployment=DEPLOYMENT)
    _fails(result, f"Listing deployment '{DEPLOYMENT}' instances infos",
           f"non-successful status code '404' {NOT_FOUND_HTML}")


def test_vms_vitals(env: Any, deployed: dict[str, int]) -> None:
    rows = env.bosh_json("vms", "--vitals", deployment=DEPLOYMENT)
    assert len(rows) == 1
    vm = rows[0]
    assert vm["instance"] == GROUP  # 1.3098's vm state has no instance id
    assert vm["ips"].startswith("10.244.") and vm["process_state"] == "running"
    assert vm["load_1m_5m_15m"] == "0.01, 0.02, 0.00"
    assert vm["uptime"] == "" and vm["vm_created_at"] == ""  # keys of later directors


def test_tasks_recent(env: Any, deployed: dict[str, int]) -> None:
    rows = env.bosh_json("tasks", "--recent")
    ids = {int(r["id"]) for r in rows}
    assert {deployed[DEPLOYMENT], deployed[OTHER]} <= ids
    assert {r["deployment"] for r in rows} == {""}  # the 2015 task hash names no deployment
    # no `deployment=` filter before 1.3213: the other deployment's tasks come back too
    filtered = env.bosh_json("tasks", "--recent", deployment=DEPLOYMENT)
    assert {int(r["id"]) for r in filtered} == ids


def test_task_debug(env: Any, deployed: dict[str, int]) -> None:
    task = deployed[DEPLOYMENT]
    result = ok(env.bosh("task", str(task), "--debug"))
    assert f"DirectorJobRunner: Starting task: {task}" in result.stdout


def _whole_deployment_fails(env: Any, command: str) -> None:
    _fails(env.bosh(command, deployment=DEPLOYMENT), EMPTY_BODY_ERROR,
           "Changing state:", "to succeed but state is 'error'")


def test_stop(env: Any, deployed: dict[str, int]) -> None:
    _whole_deployment_fails(env, "stop")
    assert the_vm(env)["process_state"] == "running"  # nothing stopped
    vm = the_vm(env)["vm_cid"]
    result = ok(env.bosh("stop", f"{GROUP}/0", deployment=DEPLOYMENT))
    assert f"Updating job {GROUP}: {GROUP}/0 (canary)" in result.stdout
    assert "L draining" not in result.stdout  # 1.3098 skips the drain of every instance-level change
    assert (the_vm(env)["process_state"], the_vm(env)["vm_cid"]) == ("stopped", vm)


def test_start(env: Any, deployed: dict[str, int]) -> None:
    _whole_deployment_fails(env, "start")
    ok(env.bosh("start", f"{GROUP}/0", deployment=DEPLOYMENT))
    assert the_vm(env)["process_state"] == "running"


def test_restart(env: Any, deployed: dict[str, int]) -> None:
    _whole_deployment_fails(env, "restart")
    result = ok(env.bosh("restart", f"{GROUP}/0", deployment=DEPLOYMENT))
    assert "L stopping jobs" in result.stdout and "L starting jobs" in result.stdout
    assert the_vm(env)["process_state"] == "running"


def test_recreate(env: Any, deployed: dict[str, int]) -> None:
    _whole_deployment_fails(env, "recreate")
    before = the_vm(env)["vm_cid"]
    ok(env.bosh("recreate", f"{GROUP}/0", deployment=DEPLOYMENT))
    after = the_vm(env)
    assert after["vm_cid"] != before and after["process_state"] == "running"


def test_ssh(env: Any, deployed: dict[str, int]) -> None:
    command = "echo ssh-works-$((6*7)); head -1 sys/log/etcd/etcd_ctl.log"
    strict = env.bosh("ssh", f"{GROUP}/0", "-c", command, deployment=DEPLOYMENT)
    _fails(strict, "No RSA host key is known for", "Host key verification failed")
    assert "ssh-works-42" not in strict.output
    ssh_tasks = [r for r in env.bosh_json("tasks", "--recent", "--all") if r["description"].startswith("ssh: ")]
    assert [r["description"].split(":")[1] for r in ssh_tasks[:2]] == [" cleanup", " setup"]  # cleaned up anyway
    answer = json.loads(ok(env.bosh("task", ssh_tasks[1]["id"], "--result")).stdout.strip().splitlines()[0])
    assert answer == [{"command": "setup", "status": "success", "ip": the_vm(env)["ips"], "index": 0}]

    relaxed = ok(env.bosh("ssh", f"{GROUP}/0", "--opts=-oStrictHostKeyChecking=no", "-c", command,
                           deployment=DEPLOYMENT))
    assert "stdout | ssh-works-42" in relaxed.stdout
    assert "started etcd (diego/0.1434.0)" in relaxed.stdout


def test_logs(env: Any, deployed: dict[str, int], tmp_path: Path) -> None:
    ok(env.bosh("logs", f"{GROUP}/0", "--dir", str(tmp_path), deployment=DEPLOYMENT))
    tarballs = list(tmp_path.glob("*.tgz"))
    assert len(tarballs) == 1
    members = tarball_members(tarballs[0])
    assert {f"./{job}/{job}.stdout.log" for job in JOBS} <= set(members)
    assert "stopped etcd" in members["./etcd/etcd_ctl.log"]


def test_events(env: Any, deployed: dict[str, int]) -> None:
    _fails(env.bosh("events"), "non-successful status code '404' response 'Not Found: /events'")


def test_locks(env: Any, deployed: dict[str, int]) -> None:
    assert env.bosh_json("locks") == []
    rows = locks_while_running(env, "restart", f"{GROUP}/0")
    assert rows, "no lock seen while `bosh restart` ran"
    assert (rows[0]["type"], rows[0]["resource"]) == ("deployment", DEPLOYMENT)
    assert rows[0]["task_id"] == ""  # 1.3098's locks (redis keys) name no task
    assert env.bosh_json("locks") == []


def test_manifest(env: Any, manifests: Path, deployed: dict[str, int]) -> None:
    result = ok(env.bosh("manifest", deployment=DEPLOYMENT))
    assert yaml.safe_load(result.stdout) == yaml.safe_load((manifests / "database.yml").read_text())


def test_delete_deployment(env: Any, deployed: dict[str, int]) -> None:
    ok(env.bosh("delete-deployment", deployment=DEPLOYMENT))
    assert {r["name"] for r in env.bosh_json("deployments")} == {OTHER}
    gone = env.bosh("vms", deployment=DEPLOYMENT)
    assert gone.returncode != 0 and f"Deployment `{DEPLOYMENT}' doesn't exist" in gone.output
