"""The director's HTTP layer (werkzeug): maps requests onto `Director` (models.py).

Faithful where clients depend on it (wire-contracts §2): basic auth on everything but
`/info` (401 text body + WWW-Authenticate), `Content-Type: text/yaml` as a routing condition
(404 `Endpoint '<path>' not found.` otherwise), 302 with an absolute `/tasks/<id>` Location
for every long operation, Range on task output (200/204/206/416), and `{code, description}`
error bodies with the director's codes.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import yaml
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.director.auth import DirectorAuth
from simulator.director.errors import DirectorError
from simulator.director.manifest import parse_manifest_text
from simulator.director.models import Director, Instance, Upload, read_upload_manifest, version_key
from simulator.director.tasks import Task
from simulator.faults import KINDS, FaultError

USER_FACING_TYPES = {"update_deployment", "delete_deployment", "update_release", "delete_release",
                     "update_stemcell", "delete_stemcell", "run_errand", "snapshot_deployment"}

YAML_ROUTES = {"deploy", "diff", "job_state", "instance_state"}
JSON_ROUTES = {"cancel_tasks", "run_errand"}
# non-converging instance actions (bosh v270.3+, `bosh stop --no-converge`): action -> state
ACTIONS = {"stop": "stopped", "start": "started", "restart": "restart", "recreate": "recreate"}

URLS = Map([
    Rule("/info", methods=["GET"], endpoint="info"),
    Rule("/oauth/token", methods=["POST"], endpoint="oauth_token"),
    Rule("/tasks", methods=["GET"], endpoint="tasks"),
    Rule("/tasks/<int:task_id>", methods=["GET"], endpoint="task"),
    Rule("/tasks/<int:task_id>/output", methods=["GET"], endpoint="task_output"),
    Rule("/task/<int:task_id>", methods=["DELETE"], endpoint="cancel_task"),
    Rule("/tasks/cancel", methods=["POST"], endpoint="cancel_tasks"),
    Rule("/deployments", methods=["GET"], endpoint="deployments"),
    Rule("/deployments", methods=["POST"], endpoint="deploy"),
    Rule("/deployments/<name>", methods=["GET"], endpoint="deployment"),
    Rule("/deployments/<name>", methods=["DELETE"], endpoint="delete_deployment"),
    Rule("/deployments/<name>/diff", methods=["POST"], endpoint="diff"),
    Rule("/deployments/<name>/jobs/<job>", methods=["PUT"], endpoint="job_state"),
    Rule("/deployments/<name>/jobs/<job>/<index_or_id>", methods=["PUT"], endpoint="instance_state"),
    Rule("/deployments/<name>/instance_groups/<group>/<index_or_id>/actions/<action>", methods=["POST"],
         endpoint="instance_action"),
    Rule("/deployments/<name>/errands", methods=["GET"], endpoint="errands"),
    Rule("/deployments/<name>/errands/<errand>/runs", methods=["POST"], endpoint="run_errand"),
    Rule("/deployments/<name>/vms", methods=["GET"], endpoint="vms"),
    Rule("/deployments/<name>/instances", methods=["GET"], endpoint="instances"),
    Rule("/releases", methods=["GET"], endpoint="releases"),
    Rule("/releases", methods=["POST"], endpoint="upload_release"),
    Rule("/stemcells", methods=["GET"], endpoint="stemcells"),
    Rule("/stemcells", methods=["POST"], endpoint="upload_stemcell"),
    Rule("/configs", methods=["GET"], endpoint="empty_list"),
    Rule("/cloud_configs", methods=["GET"], endpoint="empty_list"),
    Rule("/runtime_configs", methods=["GET"], endpoint="empty_list"),
    Rule("/locks", methods=["GET"], endpoint="locks"),
    Rule("/packages/matches", methods=["POST"], endpoint="package_matches"),
    Rule("/packages/matches_compiled", methods=["POST"], endpoint="package_matches"),
    Rule("/_simulator/faults", methods=["GET", "POST", "DELETE"], endpoint="faults"),
], strict_slashes=False)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json")


def text_response(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain")


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def _skip_drain(value: str | None) -> bool | frozenset[str]:
    """`skip_drain=true` (every instance group) or `skip_drain=job1,job2` (those groups only)."""
    if not value:
        return False
    if _truthy(value):
        return True
    names = frozenset(v.strip() for v in value.split(",") if v.strip() and v.strip().lower() != "false")
    return names or False


_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def range_response(data: bytes | None, range_header: str | None) -> Response:
    """Task output with Rack::File semantics (wire-contracts §2.5)."""
    if data is None:
        return Response(b"", status=204)
    size = len(data)
    match = _RANGE_RE.match(range_header or "") if range_header and "," not in range_header else None
    if match is None or size == 0 or (not match.group(1) and not match.group(2)):
        return Response(data, status=200, content_type="text/plain")
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return Response(data, status=200, content_type="text/plain")
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size:
        resp = Response(b"Byte range unsatisfiable", status=416, content_type="text/plain")
        resp.headers["Content-Range"] = f"bytes */{size}"
        return resp
    resp = Response(data[start:end + 1], status=206, content_type="text/plain")
    resp.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return resp


def instance_json(inst: Instance, with_expects_vm: bool, errand: bool = False) -> dict[str, Any]:
    """One entry of `/instances` (with `expects_vm`) or `/vms` (with `active`). A director
    expects a VM for a service instance that is started or stopped, not for a detached one
    (`bosh stop --hard`) nor for an errand's instance (`Instance#expects_vm?`)."""
    v = inst.view
    out: dict[str, Any] = {"agent_id": inst.agent_id, "cid": inst.vm_cid, "job": v.group, "index": v.index,
                           "id": v.id, "az": inst.az, "ips": list(v.ips), "vm_created_at": inst.vm_created_at}
    if with_expects_vm:
        out["expects_vm"] = not errand and v.state in ("started", "stopped")
    else:
        out["active"] = inst.vm_cid is not None
        out["permanent_nats_credentials"] = False
    return out


class DirectorApp:
    """WSGI application of one director."""

    def __init__(self, director: Director, auth_mode: str = "basic", public_url: str = "https://192.168.50.4:25555") -> None:
        self.d = director
        self.auth = DirectorAuth(director.username, director.password, director.uuid)
        self.auth_mode = auth_mode
        self.public_url = public_url

    # ------------------------------------------------------------------ plumbing

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except DirectorError as exc:
            response = json_response({"code": exc.code, "description": exc.description}, exc.status)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = Response(b"", status=500)
        return response(environ, start_response)

    def _user(self, request: Request) -> str | None:
        header = (request.headers.get("Authorization") or request.headers.get("X-Http-Authorization")
                  or request.headers.get("X_HTTP_AUTHORIZATION") or "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            return self.auth.check_basic(value)
        if scheme.lower() == "bearer":
            claims = self.auth.verify(value)
            return None if claims is None else str(claims.get("user_name") or claims.get("client_id"))
        return None

    def dispatch(self, request: Request) -> Response:
        adapter = URLS.bind_to_environ(request.environ)
        user = self._user(request)
        if request.path.rstrip("/") not in ("/info", "/oauth/token") and user is None:
            resp = text_response(f"Not authorized: '{request.path}'\n", 401)
            resp.headers["WWW-Authenticate"] = 'Basic realm="BOSH Director"'
            return resp
        try:
            endpoint, args = adapter.match()
        except (NotFound, MethodNotAllowed):
            return self.not_found(request)
        if endpoint in YAML_ROUTES and request.mimetype != "text/yaml":
            return self.not_found(request)
        if endpoint in JSON_ROUTES and request.mimetype != "application/json":
            return self.not_found(request)
        context_id = request.headers.get("X-Bosh-Context-Id", "")
        if len(context_id) > 64:
            raise DirectorError(70010, "X-Bosh-Context-Id cannot be more than 64 characters in length", 400)
        handler = getattr(self, f"on_{endpoint}")
        return handler(request, user or "", **args)

    @staticmethod
    def not_found(request: Request) -> Response:
        return text_response(f"Endpoint '{request.path}' not found.", 404)

    @staticmethod
    def redirect_to_task(request: Request, task: Task) -> Response:
        resp = Response(b"", status=302)
        resp.headers["Location"] = f"https://{request.host}/tasks/{task.id}"
        return resp

    # ------------------------------------------------------------------ info & tasks

    def on_info(self, request: Request, user: str) -> Response:
        return json_response({
            "name": "Bosh Lite Director", "uuid": self.d.uuid, "version": "1.3167.0 (00000000)",
            "user": user or None, "cpi": "warden_cpi",
            "user_authentication": {"type": "uaa", "options": {"url": self.public_url, "urls": [self.public_url]}}
            if self.auth_mode == "uaa" else {"type": "basic", "options": {}},
            "features": {"dns": {"status": False, "extras": {"domain_name": "bosh"}},
                         "compiled_package_cache": {"status": False, "extras": {"provider": None}},
                         "snapshots": {"status": False}},
        })

    def on_oauth_token(self, request: Request, user: str) -> Response:
        """UAA-style token endpoint (see auth.py)."""
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        status, body = self.auth.token_request(value if scheme.lower() == "basic" else None,
                                               {k: v for k, v in request.form.items()})
        return json_response(body, status)

    def on_tasks(self, request: Request, user: str) -> Response:
        with self.d._lock:
            tasks = sorted(self.d.tasks.values(), key=lambda t: t.id, reverse=True)
        states = [s for s in (request.args.get("state") or "").split(",") if s]
        if states:
            tasks = [t for t in tasks if t.state in states]
        if request.args.get("deployment"):
            tasks = [t for t in tasks if t.deployment == request.args["deployment"]]
        if request.args.get("context_id"):
            tasks = [t for t in tasks if t.context_id == request.args["context_id"]]
        if request.args.get("verbose", "1") == "1":
            tasks = [t for t in tasks if t.type in USER_FACING_TYPES]
        limit = request.args.get("limit")
        if limit and limit.isdigit():
            tasks = tasks[: int(limit)]
        return json_response([t.to_json() for t in tasks])

    def on_task(self, request: Request, user: str, task_id: int) -> Response:
        return json_response(self.d.task(task_id).to_json())

    def on_task_output(self, request: Request, user: str, task_id: int) -> Response:
        task = self.d.task(task_id)
        kind = request.args.get("type", "debug")
        if kind == "none":
            return Response(b"", status=204)
        if kind not in task.outputs:
            raise DirectorError(10001, f"Invalid task output type '{kind}'", 400)
        data = task.output(kind)
        if data is not None and not data and task.state == "queued":
            data = None  # the output file does not exist yet
        return range_response(data, request.headers.get("Range"))

    def on_cancel_task(self, request: Request, user: str, task_id: int) -> Response:
        task = self.d.task(task_id)
        if not task.request_cancel():
            return text_response(f"Cannot cancel task {task_id}: invalid state ({task.state})", 400)
        return Response(b"", status=204)

    def on_cancel_tasks(self, request: Request, user: str) -> Response:
        """`POST /tasks/cancel` (`bosh cancel-tasks`): JSON filter {states, types, deployment};
        `states` defaults to ["queued"] like the director; only queued/processing tasks can be
        cancelled, so other states in the filter match nothing. Always 204."""
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            raise DirectorError(40000, "Invalid JSON body", 400)
        if not isinstance(body, dict):
            raise DirectorError(40000, "Invalid JSON body: expected an object", 400)
        states, types = body.get("states") or ["queued"], body.get("types") or None
        if not isinstance(states, list) or (types is not None and not isinstance(types, list)):
            raise DirectorError(40000, "'states' and 'types' must be arrays", 400)
        deployment = body.get("deployment") or None
        self.d.cancel_tasks([str(x) for x in states], [str(x) for x in types] if types else None,
                            str(deployment) if deployment else None)
        return Response(b"", status=204)

    def on_empty_list(self, request: Request, user: str) -> Response:
        return json_response([])

    def on_package_matches(self, request: Request, user: str) -> Response:
        """Go CLI `upload-release` asks which packages the director already has: none (the
        simulator keeps no package blobs, so the whole tarball is always uploaded)."""
        return json_response([])

    def on_locks(self, request: Request, user: str) -> Response:
        """`GET /locks`: one entry per deployment lock held by a task (`bosh locks`)."""
        with self.d._lock:
            holders = sorted(self.d._lock_holders.items())
        return json_response([{"type": "deployment", "resource": [name],
                               "timeout": f"{time.time() + self.d.lock_timeout:.6f}", "task_id": str(task.id)}
                              for name, task in holders])

    # ------------------------------------------------------------------ deployments

    @staticmethod
    def _options(request: Request) -> dict[str, Any]:
        args = request.args
        return {"recreate": _truthy(args.get("recreate")), "skip_drain": _skip_drain(args.get("skip_drain")),
                "dry_run": _truthy(args.get("dry_run")), "fix": _truthy(args.get("fix")),
                "canaries": args.get("canaries"), "max_in_flight": args.get("max_in_flight")}

    def on_deploy(self, request: Request, user: str) -> Response:
        body = request.get_data(as_text=True)
        task = self.d.submit_deploy(body, user, self._options(request),
                                    request.headers.get("X-Bosh-Context-Id", ""))
        return self.redirect_to_task(request, task)

    def on_diff(self, request: Request, user: str, name: str) -> Response:
        context = {"cloud_config_ids": [], "runtime_config_ids": []}
        try:
            manifest = parse_manifest_text(request.get_data(as_text=True))
            self.d.bind(manifest)
        except DirectorError as exc:
            return json_response({"context": context, "diff": [],
                                  "error": f"Unable to diff manifest: {exc.description}"})
        new_lines = yaml.safe_dump(manifest, default_flow_style=False, sort_keys=False).splitlines()
        with self.d._lock:
            dep = self.d.deployments.get(name)
            old_text = dep.manifest_text if dep else None
        if old_text is None:
            diff = [[line, "added"] for line in new_lines]
        else:
            old_lines = yaml.safe_dump(parse_manifest_text(old_text), default_flow_style=False,
                                       sort_keys=False).splitlines()
            diff = []
            for line in difflib.ndiff(old_lines, new_lines):
                tag, text = line[:2], line[2:]
                if tag == "  ":
                    diff.append([text, None])
                elif tag == "- ":
                    diff.append([text, "removed"])
                elif tag == "+ ":
                    diff.append([text, "added"])
        return json_response({"context": context, "diff": diff})

    def on_deployments(self, request: Request, user: str) -> Response:
        with self.d._lock:
            deps = sorted(self.d.deployments.values(), key=lambda d: d.name)
            out = [{"name": d.name,
                    "releases": [{"name": n, "version": v} for n, v in sorted(d.plan.releases.items())],
                    "stemcells": [{"name": n, "version": v} for n, v in d.plan.stemcells],
                    "cloud_config": "none", "teams": [],
                    "locked": d.name in self.d._lock_holders} for d in deps]
        return json_response(out)

    def on_deployment(self, request: Request, user: str, name: str) -> Response:
        return json_response({"manifest": self.d.get_deployment(name).manifest_text})

    def on_delete_deployment(self, request: Request, user: str, name: str) -> Response:
        task = self.d.submit_delete(name, user, force=_truthy(request.args.get("force")))
        return self.redirect_to_task(request, task)

    def _state_change(self, request: Request, user: str, name: str, job: str, index_or_id: str | None) -> Response:
        state = request.args.get("state")
        if not state:
            raise DirectorError(40001, "Required parameter 'state' was not specified", 400)
        task = self.d.submit_state_change(name, job, index_or_id, state, request.get_data(as_text=True), user,
                                          self._options(request), request.headers.get("X-Bosh-Context-Id", ""))
        return self.redirect_to_task(request, task)

    def on_job_state(self, request: Request, user: str, name: str, job: str) -> Response:
        return self._state_change(request, user, name, job, None)

    def on_instance_state(self, request: Request, user: str, name: str, job: str, index_or_id: str) -> Response:
        return self._state_change(request, user, name, job, index_or_id)

    def on_instance_action(self, request: Request, user: str, name: str, group: str, index_or_id: str,
                           action: str) -> Response:
        if action not in ACTIONS:
            return self.not_found(request)
        state = "detached" if action == "stop" and _truthy(request.args.get("hard")) else ACTIONS[action]
        options = {"skip_drain": _truthy(request.args.get("skip_drain"))}
        task = self.d.submit_state_change(name, group, index_or_id, state, "", user, options,
                                          request.headers.get("X-Bosh-Context-Id", ""),
                                          description=f"{action} instance")
        return self.redirect_to_task(request, task)

    def _listing(self, request: Request, user: str, name: str, kind: str) -> Response:
        if request.args.get("format") == "full":
            return self.redirect_to_task(request, self.d.submit_vm_state(name, user, kind))
        dep = self.d.get_deployment(name)
        with self.d._lock:
            instances = sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
            errands = {g.name for g in dep.plan.groups if g.is_errand}
        if kind == "vms":
            instances = [i for i in instances if i.vm_cid is not None]
        return json_response([instance_json(i, kind == "instances", i.view.group in errands) for i in instances])

    def on_errands(self, request: Request, user: str, name: str) -> Response:
        """`GET /deployments/:name/errands` (`bosh errands`): the `lifecycle: errand` groups."""
        dep = self.d.get_deployment(name)
        with self.d._lock:
            groups = list(dep.plan.groups)
        return json_response([{"name": g.name} for g in groups if g.is_errand])

    def on_run_errand(self, request: Request, user: str, name: str, errand: str) -> Response:
        """`bosh run-errand`: JSON body {"keep-alive": bool, "when-changed": bool, "instances": [...]}."""
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            raise DirectorError(40000, "Invalid JSON body", 400)
        keep_alive = bool(body.get("keep-alive")) if isinstance(body, dict) else False
        task = self.d.submit_errand(name, errand, user, keep_alive, request.headers.get("X-Bosh-Context-Id", ""))
        return self.redirect_to_task(request, task)

    def on_vms(self, request: Request, user: str, name: str) -> Response:
        return self._listing(request, user, name, "vms")

    def on_instances(self, request: Request, user: str, name: str) -> Response:
        return self._listing(request, user, name, "instances")

    # ------------------------------------------------------------------ releases & stemcells

    def on_releases(self, request: Request, user: str) -> Response:
        deployed = self.d.deployed_releases()
        with self.d._lock:
            out = [{"name": name, "release_versions": [
                {"version": rv.version, "commit_hash": rv.commit_hash, "uncommitted_changes": rv.uncommitted_changes,
                 "currently_deployed": (name, rv.version) in deployed, "job_names": list(rv.jobs)}
                for rv in sorted(versions.values(), key=lambda r: version_key(r.version))]}
                for name, versions in sorted(self.d.releases.items())]
        return json_response(out)

    def on_stemcells(self, request: Request, user: str) -> Response:
        deployed = self.d.deployed_stemcells()
        with self.d._lock:
            out = [{"name": s.name, "operating_system": s.operating_system, "version": s.version, "cid": s.cid,
                    "cpi": "", "api_version": 2, "id": s.id,
                    "deployments": [{"name": n} for n in deployed.get((s.name, s.version), [])]}
                   for s in self.d.stemcells]
        return json_response(out)

    @staticmethod
    def _upload_payload(request: Request, what: str) -> tuple[Upload, str | None]:
        if request.mimetype == "application/json":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except json.JSONDecodeError:
                raise DirectorError(40000, "Invalid JSON body", 400)
            if not isinstance(body, dict) or not body.get("location"):
                raise DirectorError(40001, "Required property 'location' was not specified", 400)
            return None, str(body["location"])
        if request.mimetype == "multipart/form-data":
            for f in request.files.values():
                return read_upload_manifest(f.stream, what), None
            raise DirectorError(40001, "No file in the multipart upload", 400)
        return read_upload_manifest(request.stream, what), None

    def on_upload_release(self, request: Request, user: str) -> Response:
        data, location = self._upload_payload(request, "release")
        return self.redirect_to_task(request, self.d.submit_release_upload(user, data, location))

    def on_upload_stemcell(self, request: Request, user: str) -> Response:
        data, location = self._upload_payload(request, "stemcell")
        return self.redirect_to_task(request, self.d.submit_stemcell_upload(user, data, location))

    # ------------------------------------------------------------------ simulator admin

    def on_faults(self, request: Request, user: str) -> Response:
        faults = self.d.world.faults
        if request.method == "GET":
            return json_response({"faults": [f.to_json() for f in faults.list()], "kinds": KINDS})
        if request.method == "DELETE":
            faults.clear()
            return Response(b"", status=204)
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
            if not isinstance(body, dict):
                raise FaultError("body must be a JSON object")
            unknown = set(body) - {"kind", "target", "duration", "count", "params"}
            if unknown:
                raise FaultError(f"unknown keys: {', '.join(sorted(unknown))}")
            fault = faults.inject(str(body.get("kind")), body.get("target"),
                                  None if body.get("duration") is None else float(body["duration"]),
                                  None if body.get("count") is None else int(body["count"]),
                                  body.get("params") or {})
        except (json.JSONDecodeError, FaultError, TypeError, ValueError) as exc:
            return json_response({"code": 400, "description": str(exc)}, 400)
        except Exception as exc:  # an action fault's handler refused (e.g. no such app instance)
            return json_response({"code": 400, "description": f"{type(exc).__name__}: {exc}"}, 400)
        return json_response({"id": fault.id, **fault.to_json()}, 201)

