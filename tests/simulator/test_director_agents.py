"""What the director asks agents for besides deploys: `ssh` setup/cleanup, `fetch_logs` and
the log bundles at `/resources/:id`; and `/events` (today's director). Per era: the ssh
result keys, how targets are chosen (1.3098: `indexes` only), how a missing resource is
named. The VM sshd's own gate (only the set-up user, only with its key, until cleanup) is
tested on its auth callbacks; its listener runs in the oracle tests' private network."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
import time
import uuid
from typing import Any

import paramiko
import pytest

from simulator.director.sshd import VmSshd
from simulator.director.vmfs import VmDisks
from simulator.world import InstanceView, JobTemplate

STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "latest"}


def _manifest(sim: Any, name: str) -> dict[str, Any]:
    return {
        "name": name, "director_uuid": sim.bosh("GET", "/info").json()["uuid"],
        "releases": [{"name": "cf", "version": 220}],
        "networks": [{"name": "net", "subnets": [{"range": "10.244.71.0/24", "reserved": ["10.244.71.1"]}]}],
        "resource_pools": [{"name": "small", "network": "net", "stemcell": STEMCELL}],
        "update": {"canaries": 1, "max_in_flight": 2, "canary_watch_time": 1000, "update_watch_time": 1000},
        "jobs": [{"name": "web", "templates": [{"name": "metron_agent"}, {"name": "consul_agent"}], "instances": 2,
                  "resource_pool": "small", "networks": [{"name": "net"}]}],
    }


@pytest.fixture(scope="module", params=["2015", "current"])
def deployed(request) -> tuple[Any, str]:
    sim = request.getfixturevalue("sim" if request.param == "2015" else "sim_current")
    name = f"agents-{uuid.uuid4().hex[:8]}"
    assert sim.deploy(_manifest(sim, name))["state"] == "done"
    return sim, name


def _task_id(resp: Any) -> int:
    assert resp.status_code == 302, (resp.status_code, resp.text)
    return int(resp.headers["Location"].rsplit("/", 1)[-1])


def _ssh(sim: Any, name: str, command: str, target: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    body = {"deployment_name": name, "command": command, "target": target, "params": params}
    return sim.wait_task(_task_id(sim.bosh("POST", f"/deployments/{name}/ssh", json=body)))


def _result(sim: Any, tid: int) -> Any:
    return json.loads(sim.bosh("GET", f"/tasks/{tid}/output", params={"type": "result"}).text)


PUBLIC_KEY = "ssh-rsa " + paramiko.RSAKey.generate(1024).get_base64() + " bosh-cli"


def test_ssh_setup_and_cleanup_results_per_era(deployed):
    sim, name = deployed
    setup = _ssh(sim, name, "setup", {"job": "web", "indexes": ["1"], "ids": ["1"]},
                 {"user": "bosh_abc", "public_key": PUBLIC_KEY})
    assert setup["state"] == "done", setup
    assert setup["description"] == 'ssh: setup:{"job"=>"web", "indexes"=>["1"], "ids"=>["1"]}'
    [entry] = _result(sim, setup["id"])
    assert (entry["command"], entry["status"], entry["index"]) == ("setup", "success", 1)
    assert entry["ip"].startswith("10.244.71.")
    if sim.era == "2015":  # the 2776 stemcell's agent, and 1.3098 adds only the index
        assert set(entry) == {"command", "status", "ip", "index"}
    else:
        assert entry["job"] == "web" and len(entry["id"]) == 36
        assert entry["host_public_key"].startswith("ssh-rsa ")
    cleanup = _ssh(sim, name, "cleanup", {"job": "web", "indexes": ["1"], "ids": ["1"]}, {"user_regex": "^bosh_abc"})
    assert cleanup["state"] == "done" and _result(sim, cleanup["id"])[0]["command"] == "cleanup"


def test_2015_ssh_targets_by_index_only(sim):
    """1.3098 filters on `indexes`; the uuids a newer CLI sends in `ids` are ignored."""
    name = f"agents15-{uuid.uuid4().hex[:8]}"
    assert sim.deploy(_manifest(sim, name))["state"] == "done"
    by_ids = _ssh(sim, name, "setup", {"job": "web", "indexes": [], "ids": [str(uuid.uuid4())]},
                  {"user": "bosh_x", "public_key": PUBLIC_KEY})
    assert sorted(e["index"] for e in _result(sim, by_ids["id"])) == [0, 1]  # every instance of the job
    bad = _ssh(sim, name, "setup", {"job": "web", "indexes": ["not-a-number"]},
               {"user": "bosh_x", "public_key": PUBLIC_KEY})
    assert bad["state"] == "error" and "invalid input syntax for integer" in bad["result"]
    none = _ssh(sim, name, "setup", {"job": "web", "indexes": ["7"]}, {"user": "bosh_x", "public_key": PUBLIC_KEY})
    assert none["state"] == "error" and none["result"].startswith("No instances matched")


def test_ssh_refuses_a_setup_without_a_key(deployed):
    sim, name = deployed
    task = _ssh(sim, name, "setup", {"job": "web", "indexes": ["0"], "ids": ["0"]}, {"user": "bosh_y"})
    assert task["state"] == "error" and "Action Failed ssh" in task["result"]
    unknown = sim.bosh("POST", "/deployments/no-such/ssh", json={"deployment_name": "no-such", "command": "setup",
                                                                 "target": {}, "params": {}})
    assert (unknown.status_code, unknown.json()["code"]) == (404, 70000)
    not_json = sim.bosh("POST", f"/deployments/{name}/ssh", data=b"{}", headers={"Content-Type": "text/yaml"})
    assert not_json.status_code == 404


def test_logs_bundle_is_a_real_tarball_of_the_job_logs(deployed):
    sim, name = deployed
    task = sim.wait_task(_task_id(sim.bosh("GET", f"/deployments/{name}/jobs/web/0/logs", params={"type": "job"})))
    assert (task["state"], task["description"]) == ("done", "fetch logs")
    blob = sim.bosh("GET", f"/resources/{task['result']}")
    assert blob.status_code == 200 and blob.headers["Content-Type"] == "application/x-gzip"
    with tarfile.open(fileobj=io.BytesIO(blob.content), mode="r:gz") as tar:
        names = sorted(m.name for m in tar if m.isfile())
        ctl = tar.extractfile("./metron_agent/metron_agent_ctl.log").read().decode()
    assert names == ["./consul_agent/consul_agent.stdout.log", "./consul_agent/consul_agent_ctl.log",
                     "./metron_agent/metron_agent.stdout.log", "./metron_agent/metron_agent_ctl.log"]
    assert "started metron_agent (cf/220)" in ctl
    stage = next(e["stage"] for e in sim.task_events(task["id"]) if "stage" in e)
    assert stage == "Fetching logs for web/0" if sim.era == "2015" else (
        stage.startswith("Fetching logs for web/") and stage.endswith(" (0)"))
    only = sim.wait_task(_task_id(sim.bosh("GET", f"/deployments/{name}/jobs/web/0/logs",
                                           params={"type": "job", "filters": "consul_agent/*"})))
    with tarfile.open(fileobj=io.BytesIO(sim.bosh("GET", f"/resources/{only['result']}").content)) as tar:
        assert sorted(m.name for m in tar if m.isfile()) == ["./consul_agent/consul_agent.stdout.log",
                                                             "./consul_agent/consul_agent_ctl.log"]


def test_missing_resource_is_404_100002(deployed):
    sim, _ = deployed
    blob_id = str(uuid.uuid4())
    resp = sim.bosh("GET", f"/resources/{blob_id}")
    quoted = f"`{blob_id}'" if sim.era == "2015" else f"'{blob_id}'"
    assert (resp.status_code, resp.json()) == (404, {"code": 100002,
                                                     "description": f"Resource {quoted} not found in the blobstore"})


def test_logs_of_every_instance_today_and_of_one_in_2015(deployed):
    sim, name = deployed
    resp = sim.bosh("GET", f"/deployments/{name}/jobs/*/*/logs", params={"type": "job"})
    if sim.era == "2015":  # `Instance.find(index: '*')` on postgres: a database error, 500
        assert (resp.status_code, resp.content) == (500, b"")
        return
    task = sim.wait_task(_task_id(resp))
    with tarfile.open(fileobj=io.BytesIO(sim.bosh("GET", f"/resources/{task['result']}").content)) as tar:
        bundles = sorted(m.name for m in tar if m.isfile())
    assert len(bundles) == 2 and all(b.startswith("./web.") and b.endswith(".tgz") for b in bundles)


def test_events_with_filters(sim_current):
    sim = sim_current
    name = f"events-{uuid.uuid4().hex[:8]}"
    first = sim.deploy(_manifest(sim, name))
    assert first["state"] == "done"
    resp = sim.bosh("PUT", f"/deployments/{name}/jobs/web/0", params={"state": "stopped"}, data=b"",
                    headers={"Content-Type": "text/yaml"})
    stop = sim.wait_task(_task_id(resp))
    events = sim.bosh("GET", "/events", params={"deployment": name}).json()
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), key=int, reverse=True)
    deployment_events = [e for e in events if e["object_type"] == "deployment"]
    begin, end = sorted(deployment_events, key=lambda e: int(e["id"]))[:2]
    assert (begin["action"], begin["object_name"], begin["task"]) == ("create", name, str(first["id"]))
    assert end["parent_id"] == begin["id"] and "parent_id" not in begin and "error" not in end
    by_task = sim.bosh("GET", "/events", params={"task": str(stop["id"])}).json()
    assert {(e["action"], e["object_type"]) for e in by_task} == {("update", "deployment"), ("stop", "instance")}
    stopped = sim.bosh("GET", "/events", params={"action": "stop", "deployment": name}).json()
    assert len(stopped) == 2 and stopped[0]["instance"].startswith("web/")
    newest = int(events[0]["id"])
    assert sim.bosh("GET", "/events", params={"before_id": str(newest), "deployment": name}).json()[0]["id"] != \
        events[0]["id"]
    assert sim.bosh("GET", "/events", params={"after_time": "2999-01-01T00:00:00Z"}).json() == []
    bad = sim.bosh("GET", "/events", params={"before_time": "yesterday"})
    assert (bad.status_code, bad.text) == (400, "Invalid before parameter: 'yesterday' ")


# ---------------------------------------------------------------------- the VM sshd's gate


def _view() -> InstanceView:
    return InstanceView("d", "web", 0, str(uuid.uuid4()), ["10.244.71.9"],
                        [JobTemplate("metron_agent", "cf", "220")], {})


def test_vm_sshd_accepts_only_the_set_up_user_with_its_key_until_cleanup(tmp_path):
    from simulator.director.sshd import _Session

    sshd = VmSshd(VmDisks(tmp_path), listen=False)
    view = _view()
    key, other = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)
    sshd.setup(view, "bosh_abc", f"ssh-rsa {key.get_base64()} bosh-cli")
    session = _Session(sshd._vm(view))
    assert session.get_allowed_auths("bosh_abc") == "publickey"
    assert session.check_auth_publickey("bosh_abc", key) == paramiko.AUTH_SUCCESSFUL
    assert _Session(sshd._vm(view)).check_auth_publickey("bosh_abc", other) == paramiko.AUTH_FAILED
    assert _Session(sshd._vm(view)).check_auth_publickey("vcap", key) == paramiko.AUTH_FAILED
    assert _Session(sshd._vm(view)).check_channel_request("session", 1) != paramiko.OPEN_SUCCEEDED  # not authed
    sshd.cleanup(view, "^bosh_abc")
    assert _Session(sshd._vm(view)).check_auth_publickey("bosh_abc", key) == paramiko.AUTH_FAILED
    with pytest.raises(ValueError):
        sshd.setup(view, "bosh_def", "not a key")
    assert sshd.host_public_key(view) == sshd.host_public_key(view)  # one host key per VM
    assert sshd.host_public_key(view) != sshd.host_public_key(_view())
    sshd.setup(view, "bosh_ghi", f"ssh-rsa {key.get_base64()}")
    old_host_key = sshd.host_public_key(view)
    sshd.forget(view)  # the instance was deleted: a new VM at that address knows nobody
    assert _Session(sshd._vm(view)).check_auth_publickey("bosh_ghi", key) == paramiko.AUTH_FAILED
    assert sshd.host_public_key(view) != old_host_key


@pytest.mark.parametrize(("command", "kind", "payload_start"), [
    ("echo hi; exit 3", "exit-status", b"\x00\x00\x00\x00\x03"),  # want_reply false, uint32 3
    ("echo hi; kill -TERM $$", "exit-signal", b"\x00\x00\x00\x00\x04TERM"),  # "TERM", no SIG
])
def test_vm_sshd_reports_an_exit_as_openssh_does(tmp_path, command, kind, payload_start):
    """OpenSSH (session.c session_exit_message): `exit-status` for an exit, `exit-signal`
    and no exit-status for a command a signal killed."""
    from tests.simulator.test_sshproxy import _RecordingClient

    sshd = VmSshd(VmDisks(tmp_path), listen=False)
    view = _view()
    key = paramiko.RSAKey.generate(1024)
    sshd.setup(view, "bosh_exit", f"ssh-rsa {key.get_base64()}")
    server_end, client_end = socket.socketpair()
    serving = threading.Thread(target=sshd._serve, args=(sshd._vm(view), server_end), daemon=True)
    serving.start()
    transport = _RecordingClient(client_end)
    try:
        transport.start_client(timeout=10)
        transport.auth_publickey("bosh_exit", key)
        chan = transport.open_session()
        chan.exec_command(command)
        chan.settimeout(10)
        assert chan.makefile("rb").read() == b"hi\n", command
        deadline = time.monotonic() + 10
        while not chan.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        kinds = [k for k, _ in transport.requests]
        assert kinds == [kind], (command, transport.requests)
        assert transport.requests[0][1].startswith(payload_start), (command, transport.requests)
    finally:
        transport.close()
        serving.join(10)


def test_job_logs_record_starts_and_stops(tmp_path):
    disks = VmDisks(tmp_path)
    view = _view()
    disks.record(view, "started")
    disks.record(view, "stopped")
    with tarfile.open(fileobj=io.BytesIO(disks.pack_logs(view))) as tar:
        ctl = tar.extractfile("./metron_agent/metron_agent_ctl.log").read().decode().splitlines()
    assert [line.split("] ", 1)[1] for line in ctl] == ["started metron_agent (cf/220)", "stopped metron_agent (cf/220)"]
    with tarfile.open(fileobj=io.BytesIO(disks.pack_logs(view, "agent"))) as tar:
        assert [m.name for m in tar if m.isfile()] == ["./current"]
