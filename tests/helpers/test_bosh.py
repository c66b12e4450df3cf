"""Director client against the fake director (tests/fakes.py) over HTTPS through the resolve map."""

from __future__ import annotations

import json

import pytest
from fakes import FakeDirector, WireTask, ev

from helpers.bosh import BoshApiError, BoshError, BoshTaskError, BoshTaskTimeout, Director, format_event
from helpers.config import BoshConfig
from helpers.net import Resolver

PUBLIC = "192.168.50.4:25555"
URL = f"https://{PUBLIC}"
MANIFEST = "name: cf-warden-diego-cell1\nreleases: []\n"


@pytest.fixture
def director_factory(serve, pki):
    def make(auth: str = "basic", timeout=None, **kw):
        fake = FakeDirector(existing={"cf-warden": {}}, auth=auth, **kw)
        srv = serve(fake)
        cfg = BoshConfig(url=URL, ca_cert=pki.ca_pem, username="admin" if auth == "basic" else None,
                         password="bosh-pw" if auth == "basic" else None,
                         client="ci" if auth == "uaa" else None, client_secret="ci-secret" if auth == "uaa" else None)
        done = []
        d = Director(cfg, Resolver({PUBLIC: srv.address}, loopback_only=True), poll_interval=0.01,
                     timeout=timeout, on_task_done=done.append)
        return d, fake, done
    return make


def test_deploy_streams_each_event_once_and_keeps_the_log(director_factory):
    d, fake, done = director_factory()
    seen = []
    res = d.deploy(MANIFEST, on_event=seen.append)
    assert res.id == 1 and res.state == "done" and res.deployment == "cf-warden-diego-cell1"
    assert [(e["index"], e["state"]) for e in seen] == [(1, "started"), (1, "finished"), (2, "in_progress"),
                                                        (2, "finished")]
    assert res.events == seen
    assert res.events_raw == fake.wire_tasks[1].output
    assert done == [res]
    post = [r for r in fake.requests if r[0] == "POST" and r[1] == "/deployments"]
    assert post and post[0][2]["Content-Type"] == "text/yaml" and post[0][3] == MANIFEST.encode()
    ranges = [r[2].get("Range") for r in fake.requests if "/output" in r[1]]
    assert ranges[0] == "bytes=0-" and len(set(ranges)) > 1


def test_server_ignoring_range_does_not_duplicate_events(director_factory):
    d, _, _ = director_factory(honour_range=False)
    seen = []
    d.deploy(MANIFEST, on_event=seen.append)
    assert len(seen) == 4


def test_failed_task_names_deployment_task_state_and_message(director_factory):
    d, fake, done = director_factory()
    fake.next_task = {"chunks": [ev(1) + "\n", json.dumps({"time": 1, "error": {"code": 400007,
                                                                               "message": "'cell_z1/0' is not running after update"}}) + "\n"],
                      "final": "error", "result": "'cell_z1/0' is not running after update"}
    with pytest.raises(BoshTaskError) as ei:
        d.deploy(MANIFEST)
    e = ei.value
    assert (e.deployment, e.task_id, e.state) == ("cf-warden-diego-cell1", 1, "error")
    msg = str(e)
    assert "task 1" in msg and "cf-warden-diego-cell1" in msg and "'error'" in msg
    assert "is not running after update" in msg and "create deployment" in msg
    assert e.result is not None and e.result.events[-1]["error"]["code"] == 400007
    assert done and done[0].state == "error"


def test_cancelled_task_raises(director_factory):
    d, fake, _ = director_factory(version="283.1.6 (00000000)")
    fake.next_task = {"final": "cancelled", "result": "task cancelled"}
    with pytest.raises(BoshTaskError, match="cancelled"):
        d.change_job_state("cf-warden-diego-cell2", "stopped")


def test_api_error_parsed(director_factory):
    d, _, _ = director_factory()
    with pytest.raises(BoshApiError) as ei:
        d.deploy("releases: []\n")
    assert (ei.value.code, ei.value.status) == (440001, 400)
    assert ei.value.description == "Manifest should not be empty"
    assert "POST /deployments" in str(ei.value)


def test_bad_credentials_give_clear_error(serve, pki):
    srv = serve(FakeDirector())
    d = Director(BoshConfig(url=URL, ca_cert=pki.ca_pem, username="admin", password="wrong-pw"),
                 Resolver({PUBLIC: srv.address}))
    with pytest.raises(BoshApiError) as ei:
        d.deployments()
    assert ei.value.status == 401 and "check bosh credentials" in str(ei.value)
    assert "wrong-pw" not in str(ei.value)


def test_job_level_state_change_carries_the_manifest_for_a_2015_director(director_factory):
    """1.3098 reads a job-level change's manifest from the body (an empty one fails the task);
    instance-level changes take an empty body there too."""
    d, fake, _ = director_factory()
    d.change_job_state("cf-warden-diego-cell2", "stopped")
    d.change_job_state("cf-warden-diego-cell2", "started", job="cell_z2", index=0)
    puts = [r for r in fake.requests if r[0] == "PUT"]
    assert puts[0][1] == "/deployments/cf-warden-diego-cell2/jobs/*?state=stopped"
    assert puts[0][3] == b"name: cf-warden-diego-cell2\njobs: []\n"  # the stored manifest
    assert puts[1][1] == "/deployments/cf-warden-diego-cell2/jobs/cell_z2/0?state=started" and puts[1][3] == b""
    assert all(r[2]["Content-Type"] == "text/yaml" for r in puts)


@pytest.mark.parametrize("version", ["1.3181.0 (00000000)", "283.1.6 (00000000)"])
def test_state_change_sends_empty_text_yaml_from_build_3181(director_factory, version):
    d, fake, _ = director_factory(version=version, has_instances=True, port_in_location=True)
    d.change_job_state("cf-warden-diego-cell2", "stopped")
    puts = [r for r in fake.requests if r[0] == "PUT"]
    assert puts[0][1] == "/deployments/cf-warden-diego-cell2/jobs/*?state=stopped"
    assert puts[0][2]["Content-Type"] == "text/yaml" and puts[0][3] == b""
    assert not [r for r in fake.requests if r[0] == "GET" and r[1] == "/deployments/cf-warden-diego-cell2"]


@pytest.mark.parametrize(("text", "build", "new", "empty_body", "filters"), [
    ("1.3098.0 (00000000)", 3098, False, False, False),
    ("1.3181.0 (abcdef12)", 3181, False, True, False),
    ("1.3215.0 (00000000)", 3215, False, True, True),
    ("257.3.0 (00000000)", None, True, True, True),
    ("0.0.0", None, False, False, False),  # unknown: treated as old, whose requests work everywhere
    (None, None, False, False, False),
])
def test_director_version_decides_from_the_info_version(text, build, new, empty_body, filters):
    from helpers.bosh import BUILD_EMPTY_BODY_JOB_STATE, BUILD_TASKS_DEPLOYMENT_FILTER, DirectorVersion

    v = DirectorVersion.parse(text)
    assert (v.build, v.new_scheme) == (build, new)
    assert v.at_least(BUILD_EMPTY_BODY_JOB_STATE) is empty_body
    assert v.at_least(BUILD_TASKS_DEPLOYMENT_FILTER) is filters


def test_instances_come_from_the_vm_state_task_on_a_2015_director(director_factory):
    d, fake, _ = director_factory(has_instances=False)
    rows = d.instances("cf-warden")
    assert rows == [
        {"agent_id": "agent-a", "cid": "vm-a", "job": "cell_z1", "index": 0, "id": None, "az": None,
         "ips": ["10.244.16.2"]},
        {"agent_id": "agent-b", "cid": "vm-b", "job": "cell_z1", "index": 1, "id": None, "az": None,
         "ips": ["10.244.16.3"]}]
    d.instances("cf-warden")
    asked = [r[1] for r in fake.requests if r[1].startswith("/deployments/cf-warden/")]
    # the 404 is learnt once; the rows come from the task, never from /vms (agent ids and cids only)
    assert asked.count("/deployments/cf-warden/instances") == 1
    assert "/deployments/cf-warden/vms" not in asked
    assert asked.count("/deployments/cf-warden/vms?format=full") == 2
    with pytest.raises(BoshApiError) as ei:
        d.instances("missing")
    assert ei.value.code == 70000


def test_instances_listed_by_a_director_that_has_the_route(director_factory):
    d2, _, _ = director_factory(version="283.1.6 (00000000)", port_in_location=True)
    assert d2.instances("cf-warden")[0]["kind"] == "instances"
    with pytest.raises(BoshApiError) as ei:
        d2.instances("missing")
    assert ei.value.code == 70000


def test_task_ids_are_taken_from_a_location_without_the_port(director_factory):
    d, fake, _ = director_factory(port_in_location=False)
    res = d.delete_deployment("cf-warden-diego-cell1")
    # following the Location (https://192.168.50.4/tasks/1) would dial :443, which the resolve
    # map does not have: the id was taken and the task watched on the director's own address
    assert res.id == 1 and res.state == "done"
    assert fake.wire_tasks[1].polls >= 1


def test_tasks_of_a_deployment_on_both_eras(director_factory):
    old, fake_old, _ = director_factory()
    old.delete_deployment("cf-warden-diego-cell1")
    old.delete_deployment("cf-warden-diego-cell2")
    fake_old.wire_tasks[3] = WireTask(3, "create deployment", "someone-elses", [], "done")  # not started by us
    assert [t["id"] for t in old.tasks(deployment="cf-warden-diego-cell1")] == [1]
    listed = [r[1] for r in fake_old.requests if r[1].startswith("/tasks?")]
    assert listed and all("deployment=" not in p for p in listed)  # 1.3098 has no such filter
    assert {t["id"] for t in old.tasks()} == {1, 2, 3}

    new, fake_new, _ = director_factory(version="283.1.6 (00000000)", port_in_location=True)
    new.delete_deployment("cf-warden-diego-cell1")
    fake_new.wire_tasks[2] = WireTask(2, "create deployment", "cf-warden-diego-cell1", [], "done")  # by someone else
    assert [t["id"] for t in new.tasks(deployment="cf-warden-diego-cell1")] == [2, 1]
    assert any("deployment=cf-warden-diego-cell1" in r[1] for r in fake_new.requests)


def test_deploy_skip_drain_names_every_group(director_factory):
    d, fake, _ = director_factory()
    d.deploy(MANIFEST, skip_drain=True)
    post = [r for r in fake.requests if r[0] == "POST" and r[1].startswith("/deployments")]
    assert post[0][1] == "/deployments?skip_drain=%2A"  # `*`: SkipDrain's "all"; `true` would name a group


def test_instances_full_reads_ndjson_result(director_factory):
    d, fake, _ = director_factory(has_instances=False)
    rows = d.instances_full("cf-warden-diego-cell1")
    assert [(r["index"], r["job_state"]) for r in rows] == [(0, "running"), (1, "stopped")]
    assert any(r[1] == "/deployments/cf-warden-diego-cell1/vms?format=full" for r in fake.requests)


def test_uaa_client_credentials(director_factory):
    d, fake, _ = director_factory(auth="uaa")
    assert d.deployment_names() == ["cf-warden"]
    d.deployments()
    assert fake.tokens_issued == 1


def test_wait_gives_up_at_the_named_timeout(director_factory):
    timeouts = {"http_connect": 5, "http_read": 5, "bosh_deploy": 0.3, "bosh_task": 0.3, "bosh_upload": 1}
    d, fake, _ = director_factory(timeout=timeouts.__getitem__)
    fake.next_task = {"final": "hang"}
    with pytest.raises(BoshTaskTimeout) as ei:
        d.deploy(MANIFEST)
    assert "gave up waiting" in str(ei.value) and "task 1" in str(ei.value)
    assert ei.value.result is not None and len(ei.value.result.events) >= 1


def test_upload_release_file_and_url(director_factory, tmp_path):
    d, fake, _ = director_factory()
    tgz = tmp_path / "r.tgz"
    tgz.write_bytes(b"\x1f\x8b fake tarball")
    d.upload_release(tgz)
    d.upload_release("https://bosh.io/d/github.com/cloudfoundry/diego-release?v=0.1434.0")
    posts = [r for r in fake.requests if r[0] == "POST" and r[1] == "/releases"]
    assert posts[0][2]["Content-Type"] == "application/x-compressed" and posts[0][3] == tgz.read_bytes()
    assert posts[1][2]["Content-Type"] == "application/json"
    assert json.loads(posts[1][3])["location"].startswith("https://bosh.io/")


def test_delete_deployment(director_factory):
    d, fake, _ = director_factory()
    res = d.delete_deployment("cf-warden-diego-cell1", force=True)
    assert res.description == "delete deployment cf-warden-diego-cell1"
    assert ("DELETE", "/deployments/cf-warden-diego-cell1?force=true") in [(r[0], r[1]) for r in fake.requests]


def test_format_event_lines():
    assert format_event(json.loads(ev(2, "failed", data={"error": "boom"}))) == \
        "Updating instance cell_z1: cell_z1/uuid (2) (2/3) failed - boom"
    assert format_event({"time": 1, "error": {"code": 1, "message": "bad"}}) == "Error 1: bad"


def test_events_arrive_while_the_task_is_still_running(director_factory):
    d, fake, _ = director_factory()
    states_at_callback = []
    d.deploy(MANIFEST, on_event=lambda e: states_at_callback.append(fake.wire_tasks[1].chunks != []))
    # the first events were delivered while chunks were still pending, i.e. before the task finished
    assert states_at_callback[0] is True and states_at_callback[-1] is False


def test_watch_survives_a_few_dropped_connections(director_factory):
    d, fake, _ = director_factory()
    fake.hiccups = 3
    res = d.deploy(MANIFEST)
    assert res.state == "done" and len(res.events) == 4


def test_watch_gives_up_after_too_many_failures_in_a_row(director_factory):
    d, fake, _ = director_factory()
    fake.hiccups = 100
    with pytest.raises(BoshError, match="lost the director while watching task 1"):
        d.deploy(MANIFEST)
