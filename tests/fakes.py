"""The test doubles of tests/: one FakeDirector, one FakeCC.

FakeDirector is one director model seen the same ways: over the wire (the director API, for
helpers.bosh's tests), as the helpers and the promotion code call the client (in memory,
optionally driving the simulator's real jobs).
FakeCC is one Cloud Controller model seen three ways: over the wire (for the CF client's
tests), as the helpers call their client (for the checks' and the conductor's tests) and
as the simulator's parts call the CC component (for the simulator's tests). Both have
switches for the failures the tests need.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from werkzeug.wrappers import Request, Response

from helpers.cf import App
from helpers.http_probe import FetchResult

V0 = {"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0"}
V_PRIME = {"cf": "231", "diego": "0.1454.0", "garden-linux": "0.333.0", "etcd": "36"}
CELL_IPS = {"cell1": "10.244.16.2", "cell2": "10.244.16.6"}  # by deployment name suffix


@dataclass
class Task:
    id: int
    deployment: str | None = None
    state: str = "done"
    description: str = "create deployment"


class TaskFailed(RuntimeError):
    """A task that ended in error; `task_id` like helpers.bosh.BoshTaskError."""

    def __init__(self, task_id: int, deployment: str, message: str) -> None:
        super().__init__(f"BOSH task {task_id} for deployment {deployment} ended in state 'error': {message}")
        self.task_id = task_id


class NotFound(Exception):
    """What helpers.bosh raises for a 404 (BoshApiError carries `.status`)."""

    status = 404


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def ev(i: int, state: str = "started", **extra) -> str:
    return json.dumps({"time": 1446660000 + i, "stage": "Updating instance", "tags": ["cell_z1"], "total": 3,
                       "task": f"cell_z1/uuid ({i})", "index": i, "state": state, "progress": 0, **extra})


class WireTask:
    """A task as the wire face serves it: its event log grows by one chunk per state poll."""

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
    """A director's deployments, releases, stemcells and tasks, in memory, as the helpers call
    `helpers.bosh.Director`; with a `world` (`FakeDirector(world_dir=...)`) its deployments
    also start and stop the simulator's real jobs (the `redis` job: real redis-servers), as
    the promotion flow tests need.

    `existing`: deployment -> release -> version (also what `deployments()` lists).
    `fail_on`: a substring of "<action> <deployment>" (action: deploy | stopped | started |
    delete) whose task fails; `fail_next`: that many next deploys fail. `calls` lists every
    task as (action, deployment); `deploy_log` every deploy as (deployment, redis version);
    `task_table` every task as `GET /tasks/:id` of the 2015 director answers it. Instances
    come from the manifest's jobs and networks when it has them, else one per deployment
    (IP by its cell suffix, or `ips`).
    """

    def __init__(self, world_dir: Path | None = None, *, existing: dict[str, dict[str, str]] | None = None,
                 uploaded: list[tuple[str, str]] | None = None, authenticated: str | None = "admin",
                 ips: dict[str, list[str]] | None = None, uuid: str = "fake-director-uuid",
                 auth: str = "basic", honour_range: bool = True, has_instances: bool = True,
                 version: str = "1.3098.0 (00000000)", port_in_location: bool = False,
                 url: str = "https://192.168.50.4:25555") -> None:
        self.existing = dict(existing or {})
        self.uploaded = list(uploaded if uploaded is not None else
                             [(n, v) for vs in (V0, V_PRIME) for n, v in vs.items()])
        self.authenticated = authenticated
        self.ips = dict(ips or {})
        self.director_uuid = uuid
        self.state: dict[str, str] = {}  # deployment -> started | stopped
        self.manifests: dict[str, str] = {}
        self.instances_by_dep: dict[str, list[Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.deploy_log: list[tuple[str, str]] = []
        self.task_table: dict[int, dict[str, Any]] = {}
        self.fail_on: str | None = None
        self.fail_next = 0
        self._ids = itertools.count(1)
        # the wire face (wire-contracts §2), with switches for era quirks
        self.auth, self.honour_range, self.has_instances = auth, honour_range, has_instances
        self.version, self.port_in_location, self.url = version, port_in_location, url
        self.hiccups = 0  # next N task polls answer 502 (a proxy in front of a busy director)
        self.wire_tasks: dict[int, WireTask] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.next_task: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.tokens_issued = 0
        self.world: Any = None
        self.redis: Any = None
        self._reservation: Any = None
        # release.MF of the releases whose contents this director knows (what GET /releases/:name
        # shows); with a world, the fixture's redis releases, each final equal to its dev build
        self.release_mfs: dict[tuple[str, str], dict[str, Any]] = {}
        if world_dir is not None:
            from fixtures.redis import REDIS_SOURCES, redis_release_mf

            self.release_mfs = {("redis", v): redis_release_mf(v) for v in REDIS_SOURCES}
            from simulator.jobs import redis as redis_job
            from simulator.server import reserve_loopback_network
            from simulator.world import PROFILES, AddressMap, World

            # a loopback /16 reserved like the simulator does, so parallel runs never collide
            self._reservation = reserve_loopback_network()
            self.world = World(profile=PROFILES["fast"], state_dir=world_dir,
                               addresses=AddressMap(loopback_network=self._reservation.network))
            self.redis = redis_job.attach(self.world)

    # -- reads --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {"name": "fake", "uuid": self.director_uuid, "version": "1.3262.0"}

    def uuid(self) -> str:
        return self.director_uuid

    def authenticated_user(self) -> str | None:
        return self.authenticated

    def releases(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for n, v in self.uploaded:
            out.setdefault(n, {})[v] = {"version": v}
        for (n, v), mf in self.release_mfs.items():
            out.setdefault(n, {})[v] = {"version": v, "commit_hash": mf.get("commit_hash"),
                                        "uncommitted_changes": mf.get("uncommitted_changes")}
        return [{"name": n, "release_versions": list(vs.values())} for n, vs in out.items()]

    def release(self, name: str, version: str) -> dict[str, Any]:
        """`GET /releases/:name?version=` as a director shows a release's contents."""
        mf = self.release_mfs.get((name, version))
        if mf is None:
            raise NotFound(f"Release version `{name}/{version}' doesn't exist")
        return {"jobs": [{k: j[k] for k in ("name", "sha1", "fingerprint")} for j in mf["jobs"]],
                "packages": [{k: p[k] for k in ("name", "sha1", "fingerprint")} for p in mf["packages"]]}

    def upload_release(self, path: Path) -> Task:
        """Like a 2015 director: the same release again adds nothing; another one under a name
        and version it has (another commit, job or package fingerprint) fails the task."""
        from helpers.releases import release_manifest

        mf = release_manifest(path)
        key = (str(mf["name"]), str(mf["version"]))
        task = self._task("upload", key[0], "create release")
        old = self.release_mfs.setdefault(key, mf)

        def contents(m: dict[str, Any]) -> tuple:
            return (m.get("commit_hash"), sorted((j["name"], j["fingerprint"]) for j in m["jobs"]),
                    sorted((p["name"], p["fingerprint"]) for p in m.get("packages") or []))

        if contents(old) != contents(mf):
            self._end(task.id, "error", f"release `{key[0]}/{key[1]}' has already been uploaded otherwise")
            raise TaskFailed(task.id, key[0], "release uploaded otherwise")
        if key not in self.uploaded:
            self.uploaded.append(key)
        self._end(task.id, "done", f"Created release `{key[0]}/{key[1]}'")
        return task

    def stemcells(self) -> list[dict[str, str]]:
        return [{"name": "stem", "version": "2776"}]

    def deployment_names(self) -> list[str]:
        return list(self.existing)

    def deployments(self) -> list[dict[str, Any]]:
        return [{"name": n, "releases": [{"name": k, "version": v} for k, v in r.items()]}
                for n, r in self.existing.items()]

    def deployment_manifest(self, name: str) -> str:
        if name not in self.manifests:
            raise NotFound(f"deployment {name} not found")
        return self.manifests[name]

    def instances(self, name: str) -> list[dict[str, Any]]:
        if self.instances_by_dep.get(name):
            return [{"job": i.group, "index": i.index, "id": i.id, "ips": i.ips} for i in self.instances_by_dep[name]]
        ips = self.ips.get(name) or [ip for suffix, ip in CELL_IPS.items() if name.endswith(suffix)] or ["10.244.0.2"]
        return [{"job": "cell", "index": 0, "ips": ips}]

    def instances_full(self, name: str) -> list[dict[str, Any]]:
        """`vms?format=full` rows as the 2015 director writes them (job_name, index, ips, job_state)."""
        return [{"job_name": i.group, "index": i.index, "ips": i.ips, "job_state": "running"}
                for i in self.instances_by_dep.get(name, [])]

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        return self.world.addresses.to_loopback(host), port

    def task(self, task_id: int) -> dict[str, Any]:
        if task_id not in self.task_table:
            raise NotFound(f"task {task_id} not found")
        return dict(self.task_table[task_id])

    def tasks(self, limit: int = 100, verbose: int = 2) -> list[dict[str, Any]]:
        return [dict(t) for t in sorted(self.task_table.values(), key=lambda t: -t["id"])][:limit]

    def locks(self) -> list[dict[str, Any]]:
        return []

    # -- tasks --------------------------------------------------------------------------------

    def _task(self, action: str, name: str, description: str) -> Task:
        task_id = next(self._ids)
        self.calls.append((action, name))
        self.task_table[task_id] = {"id": task_id, "state": "processing", "description": description,
                                    "timestamp": 1_700_000_000 + task_id, "result": None, "user": "admin"}
        failing = (self.fail_on and self.fail_on in f"{action} {name}") or (action == "deploy" and self.fail_next)
        if failing:
            if action == "deploy" and self.fail_next:
                self.fail_next -= 1
            self._end(task_id, "error", "injected failure")
            raise TaskFailed(task_id, name, "injected")
        return Task(task_id, name, description=description)

    def _end(self, task_id: int, state: str, result: str) -> None:
        self.task_table[task_id].update(state=state, result=result, timestamp=1_700_000_000 + 10 * task_id)

    def deploy(self, manifest_yaml: str, on_event: Any = None) -> Task:
        doc = yaml.safe_load(manifest_yaml)
        name = doc["name"]
        if on_event:
            on_event({"stage": "Updating instance", "task": name, "state": "started"})
        task = self._task("deploy", name, "create deployment")
        versions = {str(r["name"]): str(r["version"]) for r in doc.get("releases") or []}
        known = set(self.uploaded) | set(self.release_mfs)
        missing = [f"{n}/{v}" for n, v in versions.items() if (n, v) not in known and v != "latest"]
        if missing:
            self._end(task.id, "error", f"Release version `{missing[0]}' doesn't exist")
            raise TaskFailed(task.id, name, f"Release version `{missing[0]}' doesn't exist")
        self._replace_instances(name, self._instances_of(doc, versions))
        self.existing[name] = versions
        self.manifests[name] = manifest_yaml
        self.state[name] = "started"
        self.deploy_log.append((name, versions.get("redis", "")))
        self._end(task.id, "done", f"/deployments/{name}")
        return task

    def change_job_state(self, name: str, state: str, on_event: Any = None) -> Task:
        task = self._task(state, name, f"{state} deployment {name}")
        self.state[name] = state
        self._end(task.id, "done", f"/deployments/{name}")
        return task

    def delete_deployment(self, name: str, on_event: Any = None, force: bool = False) -> Task:
        task = self._task("delete", name, f"delete deployment {name}")
        for old in self.instances_by_dep.pop(name, []):
            self._emit("deleted", old)
        self.existing.pop(name, None)
        self.state.pop(name, None)
        self.manifests.pop(name, None)
        self.deploy_log.append((name, "deleted"))
        self._end(task.id, "done", f"/deployments/{name}")
        return task

    def stop_instance(self, name: str, job: str) -> None:
        """Stop one instance's processes but keep it in the director's list (a VM whose job
        died): what the promotion's replication check must notice."""
        self._emit("stopped", next(i for i in self.instances_by_dep[name] if i.group == job))

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
        if self._reservation is not None:
            self._reservation.close()

    # -- instances from a manifest ----------------------------------------------------------

    def _instances_of(self, doc: dict[str, Any], versions: dict[str, str]) -> list[Any]:
        jobs = [j for j in doc.get("jobs") or [] if j.get("lifecycle") != "errand"]
        if not jobs or not doc.get("networks"):
            return []
        from simulator.world import InstanceView, JobTemplate

        subnet = doc["networks"][0]["subnets"][0]
        dynamic = (str(ip) for ip in list(ipaddress.IPv4Network(subnet["range"]).hosts())[9:])
        out = []
        for job in jobs:
            statics = job["networks"][0].get("static_ips") or []
            for index in range(job["instances"]):
                ip = statics[index] if index < len(statics) else next(dynamic)
                out.append(InstanceView(
                    deployment=doc["name"], group=job["name"], index=index, id=f"{doc['name']}-{job['name']}-{index}",
                    ips=[ip], templates=[JobTemplate(t["name"], t["release"], versions[t["release"]])
                                         for t in job.get("templates") or []],
                    properties=_deep_merge(doc.get("properties") or {}, job.get("properties") or {})))
        return out

    def _replace_instances(self, name: str, new: list[Any]) -> None:
        for old in self.instances_by_dep.pop(name, []):
            self._emit("stopped", old)
        for inst in new:
            self._emit("started", inst)
        self.instances_by_dep[name] = new

    def _emit(self, event: str, inst: Any) -> None:
        if self.world is not None:
            self.world.bus.emit(event, inst)

    # ========================================================================== the wire face

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        with self.lock:
            self.requests.append((req.method, req.full_path.rstrip("?"), dict(req.headers), req.get_data()))
            resp = self.route(req)
        return resp(environ, start_response)

    def _new_task(self, description: str, deployment: str | None, **kw: Any) -> Response:
        spec = {"chunks": [ev(1) + "\n", ev(1, "finished") + "\n" + ev(2, "in_progress"), "\n" + ev(2, "finished") + "\n"],
                "final": "done", **self.next_task, **kw}
        tid = next(self._ids)
        self.wire_tasks[tid] = WireTask(tid, description, deployment, spec["chunks"], spec["final"], spec.get("result"),
                                        spec.get("result_output", ""))
        # 1.3098 behind nginx names no port: a client following it would knock on :443
        host = self.url if self.port_in_location else self.url.rsplit(":", 1)[0]
        return Response("", status=302, headers={"Location": f"{host}/tasks/{tid}"})

    def _authorized(self, req: Request) -> bool:
        h = req.headers.get("Authorization", "")
        if self.auth == "basic":
            return req.authorization is not None and req.authorization.username == "admin" \
                and req.authorization.password == "bosh-pw"
        return h == "bearer director-token"

    def _record_deploy(self, doc: dict[str, Any], text: str) -> None:
        if doc.get("name"):
            self.existing[str(doc["name"])] = {str(r["name"]): str(r["version"]) for r in doc.get("releases") or []}
            self.manifests[str(doc["name"])] = text

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if p == "/info":
            ua = {"type": "basic", "options": {}} if self.auth == "basic" else \
                {"type": "uaa", "options": {"url": f"{self.url}/uaa"}}
            return Response(json.dumps({"name": "fake", "uuid": self.director_uuid, "version": self.version,
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
            doc = yaml.safe_load(req.get_data()) or {}
            self._record_deploy(doc, req.get_data().decode())
            return self._new_task("create deployment", str(doc.get("name")))
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
            self.existing.pop(p.split("/")[2], None)
            self.manifests.pop(p.split("/")[2], None)
            return self._new_task(f"delete deployment {p.split('/')[2]}", p.split("/")[2])
        if p == "/releases" and m == "POST":
            return self._new_task("create release", None)
        if p.startswith("/tasks/") and p.endswith("/output"):
            t = self.wire_tasks[int(p.split("/")[2])]
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
            t = self.wire_tasks[int(p.split("/")[2])]
            if self.hiccups:
                self.hiccups -= 1
                return Response("<html>502 Bad Gateway</html>", status=502)
            return Response(json.dumps(t.poll()), content_type="application/json")
        if p == "/deployments" and m == "GET":
            return Response(json.dumps([{**d, "stemcells": []} for d in self.deployments()]),
                            content_type="application/json")
        if p.startswith("/deployments/") and p.count("/") == 2 and m == "GET":
            name = p.split("/")[2]  # (a deployment not deployed here answers a minimal manifest)
            return Response(json.dumps({"manifest": self.manifests.get(name, f"name: {name}\njobs: []\n")}),
                            content_type="application/json")
        if p == "/tasks" and m == "GET":  # a 2015 director ignores `deployment=` and names none
            rows = [{"id": t.id, "state": "done", "description": t.description, "timestamp": 1, "result": None,
                     "user": "admin", **({} if self.version.startswith("1.") else {"deployment": t.deployment})}
                    for t in sorted(self.wire_tasks.values(), key=lambda t: -t.id)]
            if not self.version.startswith("1.") and req.args.get("deployment"):
                rows = [r for r in rows if r["deployment"] == req.args["deployment"]]
            return Response(json.dumps(rows), content_type="application/json")
        return Response('{"code":10000,"description":"not found"}', status=404)




@dataclass
class Line:
    message: str
    source_type: str
    source_instance: str
    timestamp_ns: int = 0


@dataclass
class SshResult:
    exit_status: int
    stdout: str
    stderr: str = ""


class Seen(NamedTuple):
    """One request the CC's HTTP face answered."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    scheme: str


def res(guid: str, url: str, **entity: Any) -> dict[str, Any]:
    return {"metadata": {"guid": guid, "url": url}, "entity": entity}


def err(status: int, code: int, error_code: str, description: str) -> Response:
    return Response(json.dumps({"code": code, "error_code": error_code, "description": description}),
                    status=status, content_type="application/json")


class FakeCC:
    """The Cloud Controller (with UAA in front) of every test that needs one: one model (orgs,
    spaces, apps, routes as CC v2 resources) seen three ways.

    * Over the wire, `__call__`/`wsgi`: CC v2 + UAA over HTTP, the subset helpers.cf speaks
      (token grants, orgs, spaces, domains, apps, routes, bits, jobs, instances, stats, events,
      the ssh code), every request in `log`. Users: admin / cf-admin-pw, client `cf`.
    * As the helpers call their client, in memory: `push`, `instances`, `stats`, `scale`,
      `routes`, `delete_app`, `delete_route`, `info`, `ssh_code`, `ensure_org_space`, ...; with
      the router in front of the apps (`http`: round robin, and like the gorouter of cf
      v220/v231 it knows no `X-CF-APP-INSTANCE`), their recent logs (`recent_logs`) and ssh into
      them (`ssh_exec`). Apps behave like the probe app (`/env`, `/id`, `/log/<nonce>`).
    * As the simulator's parts call the CC component: `ssh_access(token, app_guid, index)` (the
      ssh proxy; `ssh_access_for` app guid -> process guid, calls in `ssh_access_calls`) and
      `record_event` (Diego; `events`).

    Switches: `crash` {(app guid, index)}; `drop_logs`; `ssh_exit`; `wrong_index_ssh`;
    `stale_after_scale_down` (the router still knows a removed instance for N requests);
    `push_error`; `place` (() -> the cell IP instances land on); over the wire
    `staging_polls`, `running_polls`, `reject_10002`, `fail_staging`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # the model
        self.orgs: dict[str, dict[str, Any]] = {}
        self.spaces: dict[str, dict[str, Any]] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        self.route_table: dict[str, dict[str, Any]] = {}
        self.mappings: set[tuple[str, str]] = set()  # (app guid, route guid)
        self.bits: dict[str, bytes] = {}
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        # over the wire
        self.log: list[Seen] = []
        self.valid_tokens: set[str] = set()
        self.grants: list[str] = []
        self.jobs: dict[str, int] = {}  # job guid -> polls left before finished
        self.staging_polls = 2
        self.running_polls = 2
        self.reject_10002 = False
        self.fail_staging = False
        # in memory, and the router, logs and ssh in front of the apps
        self.deleted_routes: list[str] = []
        self.app_logs: dict[str, list[Line]] = {}
        self.crash: set[tuple[str, int]] = set()
        self.rr: dict[str, int] = {}  # per app, like the gorouter's per-route round robin
        self.drop_logs = False
        self.ssh_exit = 0
        self.wrong_index_ssh = False
        self.stale_after_scale_down = 0
        self.push_error: Exception | None = None
        self.place: Any = None
        self.logins = 0
        # the simulator's ssh proxy asks
        self.ssh_access_for: dict[str, str] = {}
        self.ssh_access_calls: list[tuple[Any, str, int]] = []
        self.ssh_token = "token-admin"

    # ===================================================================== the client face

    def login(self) -> None:
        self.logins += 1

    def info(self, refresh: bool = False) -> dict[str, Any]:
        return {"app_ssh_endpoint": "ssh.bosh-lite.com:2222", "app_ssh_host_key_fingerprint": "aa:bb"}

    def ssh_endpoint(self) -> tuple[str, str, str]:
        return "ssh.bosh-lite.com:2222", "aa:bb", "ssh-proxy"

    def ssh_code(self) -> str:
        return "code"

    def ensure_org_space(self, org: str, space: str) -> tuple[str, str]:
        with self.lock:
            og = next((g for g, o in self.orgs.items() if o["entity"]["name"] == org), None)
            if og is None:
                og = f"org-{org}"
                self.orgs[og] = res(og, f"/v2/organizations/{og}", name=org)
            sg = next((g for g, s in self.spaces.items()
                       if s["entity"]["name"] == space and s["entity"]["organization_guid"] == og), None)
            if sg is None:
                sg = f"space-{space}"
                self.spaces[sg] = res(sg, f"/v2/spaces/{sg}", name=space, organization_guid=og, allow_ssh=True)
            return og, sg

    def delete_org(self, guid: str) -> bool:
        with self.lock:
            return self.orgs.pop(guid, None) is not None

    def push(self, name: str, app_dir: Any, space_guid: str, instances: int = 1, enable_ssh: bool = True,
             memory: int = 64) -> App:
        if self.push_error is not None:
            raise self.push_error
        guid, route = f"guid-{name}", f"route-guid-{name}"
        with self.lock:
            self.apps[guid] = res(guid, f"/v2/apps/{guid}", name=name, space_guid=space_guid, instances=instances,
                                  memory=memory, diego=True, enable_ssh=enable_ssh, state="STARTED",
                                  package_state="STAGED")
            self.route_table[route] = res(route, f"/v2/routes/{route}", host=name, domain_guid="dom-1",
                                          space_guid=space_guid, path="", domain_url="/v2/shared_domains/dom-1")
            self.mappings.add((guid, route))
        return App(guid, name, space_guid, instances, name, "bosh-lite.com", route, [route])

    def app_url(self, app: Any) -> str:
        name = app["name"] if isinstance(app, dict) else app.name
        return f"http://{name}.bosh-lite.com"

    def routes(self, guid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [{"guid": r} for a, r in sorted(self.mappings) if a == guid and r in self.route_table]

    def instances(self, guid: str) -> dict[int, str]:
        with self.lock:
            n = self.apps[guid]["entity"]["instances"]
            return {i: ("CRASHED" if (guid, i) in self.crash else "RUNNING") for i in range(n)}

    def stats(self, guid: str) -> dict[int, dict[str, Any]]:
        host = self.place() if self.place is not None else CELL_IPS["cell1"]
        with self.lock:
            return {i: {"host": host, "port": 6000 + i} for i in range(self.apps[guid]["entity"]["instances"])}

    def scale(self, guid: str, n: int) -> None:
        with self.lock:
            ent = self.apps[guid]["entity"]
            if n < ent["instances"]:
                self.stale_after_scale_down = 2
            ent["instances"] = n

    def delete_route(self, route_guid: str) -> bool:
        with self.lock:
            self.deleted_routes.append(route_guid)
            return self.route_table.pop(route_guid, None) is not None

    def delete_app(self, guid: str) -> bool:
        with self.lock:
            return self.apps.pop(guid, None) is not None

    # ----------------------------------------------------- the router, logs and ssh in front

    def http(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        rest = url.split("//", 1)[1]
        host = rest.split(".")[0]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        with self.lock:
            routed = {r for r, route in self.route_table.items() if route["entity"]["host"] == host}
            guid = next((a for a, r in sorted(self.mappings) if r in routed and a in self.apps), None)
            if guid is None:
                return FetchResult(404, {"X-Cf-Routererror": "unknown_route"}, "")
            n = self.apps[guid]["entity"]["instances"]
            pool = n + 1 if self.stale_after_scale_down else n  # the router still knows a removed instance
            idx = self.rr.get(guid, 0) % max(pool, 1)
            self.rr[guid] = self.rr.get(guid, 0) + 1
            if self.stale_after_scale_down:
                self.stale_after_scale_down -= 1
            if (guid, idx) in self.crash:
                return FetchResult(502, {"X-Cf-Routererror": "endpoint_failure"}, "")
            if path == "/env":
                return FetchResult(200, {}, json.dumps({"CF_INSTANCE_INDEX": str(idx),
                                                        "CF_INSTANCE_GUID": f"{guid}-{idx}"}))
            if path == "/id":
                return FetchResult(200, {}, f"{guid}-{idx}")
            if path.startswith("/log/"):
                nonce = path.split("/log/")[1]
                if not self.drop_logs:
                    self.app_logs.setdefault(guid, []).append(
                        Line(f"nonce {nonce} index {idx}", "APP/PROC/WEB", str(idx)))
                return FetchResult(200, {}, "ok")
            return FetchResult(200, {}, f"probe {host} instance {idx}")

    def recent_logs(self, cf: Any, guid: str) -> list[Line]:
        with self.lock:
            return list(self.app_logs.get(guid, []))

    def ssh_exec(self, endpoint: str, fingerprint: str, user: str, password: str, command: str, resolver: Any,
                 timeout: float) -> SshResult:
        idx = int(user.rsplit("/", 1)[1])
        marker = command.split("echo ")[2].split(";")[0].strip()
        shown = 1 - idx if self.wrong_index_ssh else idx
        return SshResult(self.ssh_exit, f"index={shown}\n{marker}\n", marker)

    # ============================================================ the simulator parts' face

    def ssh_access(self, token: Any, app_guid: str, index: int) -> str:
        """The ssh proxy's question: may this token ssh into that app? (the process guid)."""
        self.ssh_access_calls.append((token, app_guid, index))
        if token != self.ssh_token or app_guid not in self.ssh_access_for:
            raise PermissionError("no")
        return self.ssh_access_for[app_guid]

    def record_event(self, app_guid: str, kind: str, metadata: dict[str, Any]) -> None:
        self.events.append((app_guid, kind, metadata))

    # ================================================================== the wire face

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        with self.lock:
            self.log.append(Seen(req.method, req.full_path.rstrip("?"), dict(req.headers),
                                 str(environ.get("wsgi.url_scheme"))))
            resp = self.route(req)
        return resp(environ, start_response)

    wsgi = __call__

    def _json(self, obj, status=200):
        return Response(json.dumps(obj), status=status, content_type="application/json")

    def _coll(self, items):
        return self._json({"total_results": len(items), "total_pages": 1, "next_url": None, "resources": items})

    def _token(self, grant: str):
        tok = f"tok-{uuid.uuid4()}"
        self.valid_tokens.add(tok)
        self.grants.append(grant)
        return self._json({"access_token": tok, "token_type": "bearer", "refresh_token": f"{tok}-r", "expires_in": 599})

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if p == "/v2/info":
            return self._json({"api_version": "2.39.0", "authorization_endpoint": "https://login.bosh-lite.com",
                               "token_endpoint": "https://uaa.bosh-lite.com",
                               "app_ssh_endpoint": "ssh.bosh-lite.com:2222",
                               "app_ssh_host_key_fingerprint": "a6:d1:08:0b:b0:cb:9b:5f:c4:ba:44:2a:97:26:19:8a",
                               "app_ssh_oauth_client": "ssh-proxy",
                               "doppler_logging_endpoint": "wss://doppler.bosh-lite.com:443"})
        if p == "/oauth/token":
            assert req.host == "uaa.bosh-lite.com"
            a = req.authorization
            if not a or a.username != "cf" or a.password:
                return Response('{"error":"unauthorized"}', status=401)
            f = req.form
            if f["grant_type"] == "password":
                if (f["username"], f["password"]) != ("admin", "cf-admin-pw"):
                    return self._json({"error": "unauthorized", "error_description": "Bad credentials"}, 401)
                return self._token("password")
            if f["grant_type"] == "refresh_token" and f["refresh_token"].endswith("-r"):
                return self._token("refresh_token")
            return self._json({"error": "invalid_token"}, 401)
        tok = req.headers.get("Authorization", "").removeprefix("bearer ")
        if not tok or self.reject_10002:
            return err(401, 10002, "CF-NotAuthenticated", "Authentication error")
        if tok not in self.valid_tokens:
            return err(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
        if p == "/oauth/authorize":
            if req.args.get("response_type") != "code" or req.args.get("client_id") != "ssh-proxy":
                return Response("bad", status=400)
            return Response("", status=302, headers={"Location": "https://uaa.bosh-lite.com/login?code=abc123"})
        return self.cc(req, p, m)

    def cc(self, req: Request, p: str, m: str) -> Response:
        body = req.get_json(silent=True) or {}
        q = req.args.getlist("q")
        if p == "/v2/organizations" and m == "GET":
            name = q[0].split(":", 1)[1]
            return self._coll([o for o in self.orgs.values() if o["entity"]["name"] == name])
        if p == "/v2/organizations" and m == "POST":
            g = str(uuid.uuid4())
            self.orgs[g] = res(g, f"/v2/organizations/{g}", name=body["name"])
            return self._json(self.orgs[g], 201)
        if p.startswith("/v2/organizations/") and m == "DELETE":
            g = p.rsplit("/", 1)[1]
            if g not in self.orgs:
                return err(404, 30003, "CF-OrganizationNotFound", "not found")
            del self.orgs[g]
            return self._job()
        if p == "/v2/spaces" and m == "GET":
            f = dict(x.split(":", 1) for x in q)
            return self._coll([s for s in self.spaces.values() if s["entity"]["name"] == f["name"]
                               and s["entity"]["organization_guid"] == f["organization_guid"]])
        if p == "/v2/spaces" and m == "POST":
            g = str(uuid.uuid4())
            self.spaces[g] = res(g, f"/v2/spaces/{g}", **body)
            return self._json(self.spaces[g], 201)
        if p == "/v2/shared_domains":
            return self._coll([res("dom-1", "/v2/shared_domains/dom-1", name="bosh-lite.com")])
        if p == "/v2/apps" and m == "POST":
            g = str(uuid.uuid4())
            self.apps[g] = res(g, f"/v2/apps/{g}", state="STOPPED", package_state="PENDING", **body)
            return self._json(self.apps[g], 201)
        if p == "/v2/routes" and m == "POST":
            g = str(uuid.uuid4())
            self.route_table[g] = res(g, f"/v2/routes/{g}", domain_url="/v2/shared_domains/dom-1", path="", **body)
            return self._json(self.route_table[g], 201)
        if p.startswith("/v2/shared_domains/"):
            return self._json(res("dom-1", p, name="bosh-lite.com"))
        parts = p.split("/")
        if len(parts) >= 4 and parts[2] == "apps":
            g = parts[3]
            app = self.apps.get(g)
            if app is None:
                return err(404, 100004, "CF-AppNotFound", f"The app could not be found: {g}")
            ent = app["entity"]
            rest = parts[4:]
            if rest[:1] == ["routes"] and m == "PUT":
                self.mappings.add((g, rest[1]))
                return self._json(app, 201)
            if rest == ["routes"]:
                return self._coll([self.route_table[r] for a, r in sorted(self.mappings) if a == g])
            if rest == ["bits"] and m == "PUT":
                if "resources" not in req.form or "application" not in req.files:
                    return err(400, 160001, "CF-AppBitsUploadInvalid", "missing :resources")
                self.bits[g] = req.files["application"].read()
                return self._job(polls=2)
            if rest == ["instances"]:
                if ent["state"] != "STARTED":
                    return err(400, 220001, "CF-InstancesError", "stopped")
                if ent["package_state"] != "STAGED":
                    return err(400, 170002, "CF-NotStaged", "App has not finished staging")
                ent["_running_polls"] = ent.get("_running_polls", self.running_polls) - 1
                st = "RUNNING" if ent["_running_polls"] <= 0 else "STARTING"
                return self._json({str(i): {"state": st, "since": 1.0} for i in range(ent["instances"])})
            if rest == ["stats"]:
                if ent["state"] != "STARTED":
                    return err(400, 200003, "CF-AppStoppedStatsError", "stopped")
                return self._json({str(i): {"state": "RUNNING", "stats": {"host": "10.244.16.2", "port": 61000 + i,
                                                                          "uris": ["x.bosh-lite.com"]}}
                                   for i in range(ent["instances"])})
            if not rest and m == "PUT":
                if body.get("state") == "STARTED" and g not in self.bits:
                    return err(400, 150001, "CF-AppPackageInvalid", "bits have not been uploaded")
                ent.update(body)
                return self._json(app, 201)
            if not rest and m == "GET":
                if ent["state"] == "STARTED" and self.fail_staging:
                    ent.update(package_state="FAILED", staging_failed_reason="BuildpackCompileFailed",
                               staging_failed_description="App staging failed in the buildpack compile phase")
                if ent["state"] == "STARTED" and ent["package_state"] == "PENDING":
                    ent["_staging_polls"] = ent.get("_staging_polls", self.staging_polls) - 1
                    if ent["_staging_polls"] <= 0:
                        ent["package_state"] = "STAGED"
                return self._json(app)
            if not rest and m == "DELETE":
                del self.apps[g]
                return Response(status=204)
        if p.startswith("/v2/routes/") and m == "DELETE":
            self.route_table.pop(parts[3], None)
            return Response(status=204)
        if p.startswith("/v2/jobs/"):
            g = parts[3]
            self.jobs[g] -= 1
            status = "finished" if self.jobs[g] <= 0 else "running"
            return self._json({"metadata": {"guid": g, "url": p}, "entity": {"guid": g, "status": status}})
        if p == "/v2/events":
            return self._coll([res("e1", "/v2/events/e1", type="audit.app.ssh-authorized", timestamp="t",
                                   metadata={"index": 0})])
        return err(404, 10000, "CF-NotFound", "Unknown request")

    def _job(self, polls: int = 1) -> Response:
        g = str(uuid.uuid4())
        self.jobs[g] = polls
        return self._json({"metadata": {"guid": g, "url": f"/v2/jobs/{g}"}, "entity": {"guid": g, "status": "queued"}},
                          202 if polls == 1 else 201)


SUFFIX = {"cf": "", "database": "-diego-database", "brain-and-pals": "-diego-brain-and-pals",
          "cell1": "-diego-cell1", "cell2": "-diego-cell2"}


def fake_generate(versions: str, target: str, director_uuid: str, out: Any, stubs: Any, prefix: str, *,
                  secrets_file: Any, cf_admin_user: str | None, cf_admin_password: str | None) -> dict[str, Any]:
    """Stands in for `manifests.generate.generate`: five tiny manifests naming their releases."""
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for piece, suffix in SUFFIX.items():
        releases = dict(V0 if versions == "v0" else V_PRIME)
        if piece == "cf":
            releases = {"cf": releases["cf"]}
        doc = {"name": prefix + suffix, "director_uuid": director_uuid,
               "releases": [{"name": k, "version": v} for k, v in releases.items()],
               "resource_pools": [{"name": "z1", "stemcell": {"name": "stem", "version": "2776"}}],
               "admin": cf_admin_user}
        path = out / f"{piece}.yml"
        path.write_text(yaml.safe_dump(doc))
        paths[piece] = path
    return paths


def upgrade_config(cell_stop: str = "stop", manifests: dict[str, str | None] | None = None) -> Any:
    """The parts of a suite config the upgrade's helpers read."""
    from types import SimpleNamespace

    return SimpleNamespace(
        upgrade=SimpleNamespace(deployment_prefix="cf-warden", versions={"v0": "v0", "v_prime": "v_prime"},
                                manifests=manifests or {"v0": None, "v_prime": None}, stubs=(), cell_stop=cell_stop),
        cf=SimpleNamespace(admin_user="admin", admin_password="pw", system_domain="bosh-lite.com",
                           apps_domain="bosh-lite.com"),
        timeout_scale=1.0, timeout=lambda name: 1.0)


def fake_manifests(directory: Any, **config: Any) -> Any:
    """Manifest sets for a fake director, generated by `fake_generate`."""
    from manifests.sets import prepare

    return prepare(upgrade_config(**config), "fake-director-uuid", directory, generate=fake_generate)
