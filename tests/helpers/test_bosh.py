"""Director client against a small fake director over HTTPS through the resolve map."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.wrappers import Request, Response

from helpers.bosh import BoshApiError, BoshError, BoshTaskError, BoshTaskTimeout, Director, format_event
from helpers.config import BoshConfig
from helpers.net import Resolver

PUBLIC = "192.168.50.4:25555"
URL = f"https://{PUBLIC}"
MANIFEST = "name: cf-warden-diego-cell1\nreleases: []\n"


def ev(i: int, state: str = "started", **extra) -> str:
    return json.dumps({"time": 1446660000 + i, "stage": "Updating instance", "tags": ["cell_z1"], "total": 3,
                       "task": f"cell_z1/uuid ({i})", "index": i, "state": state, "progress": 0, **extra})


class Task:
    def __init__(self, tid: int, description: str, deployment: str | None, chunks: list[str], final: str,
                 result: str | None = None, result_output: str = ""):
        self.id, self.description, self.deployment = tid, description, deployment
        self.chunks = list(chunks)  # one chunk of event text appended per state poll
        self.output = ""
        self.final, self.result, self.result_output = final, result, result_output
        self.polls = 0

    def poll(self) -> dict:
        self.polls += 1
        if self.chunks:
            self.output += self.chunks.pop(0)
        state = "processing" if (self.chunks or self.final == "hang") else self.final
        return {"id": self.id, "state": state, "description": self.description, "timestamp": None,
                "result": self.result if state not in ("processing",) else None, "user": "admin"}


class FakeDirector:
    """Just enough of the director API (wire-contracts §2), with switches for era quirks."""

    def __init__(self, auth: str = "basic", honour_range: bool = True, has_instances: bool = True,
                 version: str = "1.3098.0 (00000000)", port_in_location: bool = False):
        self.auth, self.honour_range, self.has_instances = auth, honour_range, has_instances
        self.version, self.port_in_location = version, port_in_location
        self.cancel_refused: set[int] = set()
        self.hiccups = 0  # next N task polls answer 502 (a proxy in front of a busy director)
        self.tasks: dict[int, Task] = {}
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.next_task: dict = {}
        self.lock = threading.Lock()
        self.tokens_issued = 0

    def _new_task(self, description: str, deployment: str | None, **kw) -> Response:
        spec = {"chunks": [ev(1) + "\n", ev(1, "finished") + "\n" + ev(2, "in_progress"), "\n" + ev(2, "finished") + "\n"],
                "final": "done", **self.next_task, **kw}
        tid = len(self.tasks) + 1
        self.tasks[tid] = Task(tid, description, deployment, spec["chunks"], spec["final"], spec.get("result"),
                               spec.get("result_output", ""))
        # 1.3098 behind nginx names no port: a client following it would knock on :443
        host = URL if self.port_in_location else URL.rsplit(":", 1)[0]
        return Response("", status=302, headers={"Location": f"{host}/tasks/{tid}"})

    def _authorized(self, req: Request) -> bool:
        h = req.headers.get("Authorization", "")
        if self.auth == "basic":
            return req.authorization is not None and req.authorization.username == "admin" \
                and req.authorization.password == "bosh-pw"
        return h == "bearer director-token"

    def __call__(self, environ, start_response):
        req = Request(environ)
        with self.lock:
            self.requests.append((req.method, req.full_path.rstrip("?"), dict(req.headers), req.get_data()))
            resp = self.route(req)
        return resp(environ, start_response)

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if p == "/info":
            ua = {"type": "basic", "options": {}} if self.auth == "basic" else \
                {"type": "uaa", "options": {"url": f"{URL}/uaa"}}
            return Response(json.dumps({"name": "fake", "uuid": "uuid-1", "version": self.version,
                                        "user": None, "user_authentication": ua}), content_type="application/json")
        if p == "/uaa/oauth/token":
            f = req.form
            ok = req.authorization and (req.authorization.username, req.authorization.password) == ("ci", "ci-secret")
            if f.get("grant_type") != "client_credentials" or not ok:
                return Response('{"error":"unauthorized"}', status=401)
            self.tokens_issued += 1
            return Response(json.dumps({"access_token": "director-token", "token_type": "bearer", "expires_in": 600}),
                            content_type="application/json")
        if not self._authorized(req):
            return Response('{"code":401,"description":"Not authorized"}', status=401)
        yaml_ok = req.mimetype == "text/yaml"
        if p == "/deployments" and m == "POST":
            if not yaml_ok:
                return Response('{"code":404,"description":"Endpoint \'/deployments\' not found"}', status=404)
            if b"name:" not in req.get_data():
                return Response('{"code":440001,"description":"Manifest should not be empty"}', status=400)
            return self._new_task("create deployment", "cf-warden-diego-cell1")
        if p.startswith("/deployments/") and "/jobs/" in p and m == "PUT":
            if not yaml_ok:
                return Response("", status=404)
            return self._new_task("create deployment", p.split("/")[2])
        if p == "/deployments/missing/instances" or p == "/deployments/missing/vms":
            return Response('{"code":70000,"description":"Deployment \'missing\' doesn\'t exist"}', status=404)
        if p.endswith("/instances") or p.endswith("/vms"):
            if p.endswith("/instances") and not self.has_instances:
                return Response("<h1>Not Found</h1>", status=404)
            if req.args.get("format") == "full":
                rows = [{"job_name": "cell_z1", "index": 0, "job_state": "running", "ips": ["10.244.16.2"],
                         "vm_cid": "vm-a", "agent_id": "agent-a"},
                        {"job_name": "cell_z1", "index": 1, "job_state": "stopped", "ips": ["10.244.16.3"],
                         "vm_cid": "vm-b", "agent_id": "agent-b"}]
                return self._new_task("retrieve vm-stats", p.split("/")[2],
                                      result_output="".join(json.dumps(r) + "\n" for r in rows))
            kind = "instances" if p.endswith("/instances") else "vms"
            return Response(json.dumps([{"job": "cell_z1", "index": 0, "kind": kind}]), content_type="application/json")
        if p.startswith("/deployments/") and m == "DELETE":
            return self._new_task(f"delete deployment {p.split('/')[2]}", p.split("/")[2])
        if p == "/releases" and m == "POST":
            return self._new_task("create release", None)
        if p.startswith("/tasks/") and p.endswith("/output"):
            t = self.tasks[int(p.split("/")[2])]
            if req.args.get("type") == "result":
                return Response(t.result_output, content_type="text/plain")
            data = t.output.encode()
            rng = req.headers.get("Range")
            if not self.honour_range or not rng:
                return Response(data, status=200 if data else 204)
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(data):
                return Response("Byte range unsatisfiable", status=416,
                                headers={"Content-Range": f"bytes */{len(data)}"})
            return Response(data[start:], status=206,
                            headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        if p.startswith("/tasks/"):
            t = self.tasks[int(p.split("/")[2])]
            if self.hiccups:
                self.hiccups -= 1
                return Response("<html>502 Bad Gateway</html>", status=502)
            return Response(json.dumps(t.poll()), content_type="application/json")
        if p == "/deployments" and m == "GET":
            return Response('[{"name":"cf-warden","releases":[],"stemcells":[]}]', content_type="application/json")
        if p.startswith("/deployments/") and p.count("/") == 2 and m == "GET":
            return Response(json.dumps({"manifest": f"name: {p.split('/')[2]}\njobs: []\n"}),
                            content_type="application/json")
        if p == "/tasks" and m == "GET":  # a 2015 director ignores `deployment=` and names none
            rows = [{"id": t.id, "state": "done", "description": t.description, "timestamp": 1, "result": None,
                     "user": "admin", **({} if self.version.startswith("1.") else {"deployment": t.deployment})}
                    for t in sorted(self.tasks.values(), key=lambda t: -t.id)]
            if not self.version.startswith("1.") and req.args.get("deployment"):
                rows = [r for r in rows if r["deployment"] == req.args["deployment"]]
            return Response(json.dumps(rows), content_type="application/json")
        if p.startswith("/task/") and m == "DELETE":
            tid = int(p.rsplit("/", 1)[-1])
            if tid in self.cancel_refused:
                return Response(f"Cannot cancel task {tid}: invalid state (done)", status=400)
            return Response("", status=204)
        return Response('{"code":10000,"description":"not found"}', status=404)


@pytest.fixture
def director_factory(serve, pki):
    def make(auth: str = "basic", timeout=None, **kw):
        fake = FakeDirector(auth=auth, **kw)
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
    assert res.events_raw == fake.tasks[1].output
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
    assert fake.tasks[1].polls >= 1


def test_tasks_of_a_deployment_on_both_eras(director_factory):
    old, fake_old, _ = director_factory()
    old.delete_deployment("cf-warden-diego-cell1")
    old.delete_deployment("cf-warden-diego-cell2")
    fake_old.tasks[3] = Task(3, "create deployment", "someone-elses", [], "done")  # not started by us
    assert [t["id"] for t in old.tasks(deployment="cf-warden-diego-cell1")] == [1]
    listed = [r[1] for r in fake_old.requests if r[1].startswith("/tasks?")]
    assert listed and all("deployment=" not in p for p in listed)  # 1.3098 has no such filter
    assert {t["id"] for t in old.tasks()} == {1, 2, 3}

    new, fake_new, _ = director_factory(version="283.1.6 (00000000)", port_in_location=True)
    new.delete_deployment("cf-warden-diego-cell1")
    fake_new.tasks[2] = Task(2, "create deployment", "cf-warden-diego-cell1", [], "done")  # by someone else
    assert [t["id"] for t in new.tasks(deployment="cf-warden-diego-cell1")] == [2, 1]
    assert any("deployment=cf-warden-diego-cell1" in r[1] for r in fake_new.requests)


def test_cancel_task(director_factory):
    d, fake, _ = director_factory()
    assert d.cancel_task(4) is True
    fake.cancel_refused.add(5)
    assert d.cancel_task(5) is False
    assert ("DELETE", "/task/4") in [(r[0], r[1]) for r in fake.requests]


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
    d.deploy(MANIFEST, on_event=lambda e: states_at_callback.append(fake.tasks[1].chunks != []))
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
