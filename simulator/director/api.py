"""The director's HTTP layer (werkzeug): maps requests onto `Director` (models.py).

Which routes exist and how a request that matches none is answered depend on the era
(era.py): 1.3098's Sinatra 1.4 checks credentials as a condition of each route, so a path
with no route is `<h1>Not Found</h1>` whoever asks; today's director checks them first and
answers `Endpoint '<path>' not found.`; a path outside every mounted controller is the
Rack::URLMap's `Not Found: <path>` in both. Common to both: basic or UAA auth on everything
but `/info` (401 text body + `WWW-Authenticate`), `Content-Type: text/yaml` as a routing
condition, 302 to `/tasks/<id>` for every long operation, Range on task output
(200/204/206/416), `{code, description}` error bodies.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import yaml
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.director import errors, presenters
from simulator.director.auth import DirectorAuth
from simulator.director.era import ERA_2015, DirectorEra
from simulator.director.errors import DirectorError, ServerError
from simulator.director.manifest import parse_manifest_text
from simulator.director.models import Director, Upload
from simulator.director.releases import read_upload
from simulator.director.state import version_key
from simulator.director.tasks import Task
from simulator.faults import KINDS, FaultError

USER_FACING_TYPES = {"update_deployment", "delete_deployment", "update_release", "delete_release",
                     "update_stemcell", "delete_stemcell", "run_errand", "snapshot_deployment",
                     "create_snapshot", "delete_snapshot"}

YAML_ROUTES = {"deploy", "diff", "job_state", "instance_state", "package_matches", "package_matches_compiled"}
JSON_ROUTES = {"cancel_tasks", "ssh"}
JSON_ROUTES_TODAY = {"run_errand"}  # 1.3098's errand runs have no `consumes`
ADMIN = {"faults"}
# non-converging instance actions (bosh v270.3+, `bosh stop --no-converge`): action -> state
ACTIONS = {"stop": "stopped", "start": "started", "restart": "restart", "recreate": "recreate"}


def _rules() -> list[Rule]:
    """Every route any era has (a Rule belongs to one Map, so each app makes its own)."""
    return [
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
        Rule("/deployments/<name>/jobs/<job>/<index_or_id>/logs", methods=["GET"], endpoint="logs"),
        Rule("/deployments/<name>/ssh", methods=["POST"], endpoint="ssh"),
        Rule("/deployments/<name>/instance_groups/<group>/<index_or_id>/actions/<action>", methods=["POST"],
             endpoint="instance_action"),
        Rule("/deployments/<name>/errands", methods=["GET"], endpoint="errands"),
        Rule("/deployments/<name>/errands/<errand>/runs", methods=["POST"], endpoint="run_errand"),
        Rule("/deployments/<name>/vms", methods=["GET"], endpoint="vms"),
        Rule("/deployments/<name>/instances", methods=["GET"], endpoint="instances"),
        Rule("/releases", methods=["GET"], endpoint="releases"),
        Rule("/releases", methods=["POST"], endpoint="upload_release"),
        Rule("/releases/<name>", methods=["GET"], endpoint="release"),
        Rule("/stemcells", methods=["GET"], endpoint="stemcells"),
        Rule("/stemcells", methods=["POST"], endpoint="upload_stemcell"),
        Rule("/configs", methods=["GET"], endpoint="configs"),
        Rule("/cloud_configs", methods=["GET"], endpoint="cloud_configs"),
        Rule("/runtime_configs", methods=["GET"], endpoint="runtime_configs"),
        Rule("/events", methods=["GET"], endpoint="events"),
        Rule("/locks", methods=["GET"], endpoint="locks"),
        Rule("/packages/matches", methods=["POST"], endpoint="package_matches"),
        Rule("/packages/matches_compiled", methods=["POST"], endpoint="package_matches_compiled"),
        Rule("/resources/<blobstore_id>", methods=["GET"], endpoint="resource"),
        Rule("/_simulator/faults", methods=["GET", "POST", "DELETE"], endpoint="faults"),
    ]


def url_map(era: DirectorEra, auth_mode: str) -> Map:
    """The routes of `era` (plus the simulator's admin route, and the token endpoint that
    stands in for the director's UAA in `uaa` mode)."""
    keep = set(era.routes) | ADMIN | ({"oauth_token"} if auth_mode == "uaa" else set())
    return Map([r for r in _rules() if r.endpoint in keep], strict_slashes=False)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json")


def text_response(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain")


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def skip_drain_param(value: str | None) -> bool | frozenset[str]:
    """bosh's `SkipDrain.new(param)` (the same in 1.3098 and today): `*` is every instance
    group, anything else a comma-separated list of group names (so `true` names a group
    called "true"); absent or empty is none."""
    if not value:
        return False
    if value == "*":
        return True
    return frozenset(v for v in value.split(",") if v) or False


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


def _int_param(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"[-+]?\d+", value.strip()):
        return None
    return int(value)


class DirectorApp:
    """WSGI application of one director."""

    def __init__(self, director: Director, auth_mode: str | None = None,
                 public_url: str = "https://192.168.50.4:25555") -> None:
        self.d = director
        self.era: DirectorEra = getattr(director, "era", ERA_2015)
        self.auth = DirectorAuth(director.username, director.password, director.uuid)
        self.auth_mode = auth_mode or self.era.default_auth
        self.public_url = public_url
        self.urls = url_map(self.era, self.auth_mode)

    # ------------------------------------------------------------------ plumbing

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except DirectorError as exc:
            response = json_response({"code": exc.code, "description": exc.description}, exc.status)
        except ServerError:
            response = Response(b"", status=500)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = Response(b"", status=500)
        # `Date`: the director's `after` filter sets one, but nginx in front answers with its own
        # (`proxy_hide_header` hides the upstream's), as the listener here does: one HTTP-date
        return response(environ, start_response)

    def _user(self, request: Request) -> str | None:
        header = (request.headers.get("Authorization") or request.headers.get("X-Http-Authorization")
                  or request.headers.get("X_HTTP_AUTHORIZATION") or "")
        scheme, _, value = header.partition(" ")
        # a director has one identity provider: local users (basic) or UAA (bearer tokens only)
        if scheme.lower() == "basic" and self.auth_mode != "uaa":
            return self.auth.check_basic(value)
        if scheme.lower() == "bearer" and self.auth_mode == "uaa":
            claims = self.auth.verify(value)
            return None if claims is None else str(claims.get("user_name") or claims.get("client_id"))
        return None

    def _match(self, request: Request) -> tuple[str, dict[str, Any]] | None:
        """The route a request takes, content-type conditions included; None when none."""
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except (NotFound, MethodNotAllowed):
            return None
        json_routes = JSON_ROUTES | (JSON_ROUTES_TODAY if self.era.name != "2015" else set())
        if endpoint in YAML_ROUTES and request.mimetype != "text/yaml":
            return None
        if endpoint in json_routes and request.mimetype != "application/json":
            return None
        return endpoint, args

    def dispatch(self, request: Request) -> Response:
        user = self._user(request)
        route = self._match(request)
        public = route is not None and route[0] in ("info", "oauth_token")
        mounted = self._mounted(request.path) or (route is not None and route[0] in ADMIN)
        # today: credentials first, for every path a controller is mounted on
        if self.era.auth_before_routing and mounted and not public and user is None:
            return self.unauthorized(request)
        if route is None:
            return self.not_found(request)
        endpoint, args = route
        # 1.3098: credentials are a condition of the route that matched
        if not public and user is None:
            return self.unauthorized(request)
        if self.era.context_ids:
            context_id = request.headers.get("X-Bosh-Context-Id", "")
            if len(context_id) > 64:
                raise DirectorError(70010, "X-Bosh-Context-Id cannot be more than 64 characters in length", 400)
        handler = getattr(self, f"on_{endpoint}")
        return handler(request, user or "", **args)

    def _mounted(self, path: str) -> bool:
        return path.strip("/").split("/", 1)[0] in self.era.mounts

    @staticmethod
    def unauthorized(request: Request) -> Response:
        resp = text_response(f"Not authorized: '{request.path}'\n", 401)
        resp.headers["WWW-Authenticate"] = 'Basic realm="BOSH Director"'
        return resp

    def not_found(self, request: Request) -> Response:
        if not self._mounted(request.path):  # Rack::URLMap
            resp = text_response(f"Not Found: {request.path}", 404)
            resp.headers["X-Cascade"] = "pass"
            return resp
        if self.era.name == "2015":  # Sinatra 1.4's default
            resp = Response("<h1>Not Found</h1>", status=404, content_type="text/html;charset=utf-8")
            resp.headers["X-Cascade"] = "pass"
            return resp
        return text_response(f"Endpoint '{request.path}' not found.", 404)

    def redirect_to_task(self, request: Request, task: Task) -> Response:
        """302 to the task. 1.3098's nginx passes `Host` without the port, so its Location
        names none (`https://192.168.50.4/tasks/7`): clients take the id, never the host."""
        host = request.host if self.era.location_keeps_port else request.host.rsplit(":", 1)[0]
        resp = Response(b"", status=302)
        resp.headers["Location"] = f"https://{host}/tasks/{task.id}"
        return resp

    def _context_id(self, request: Request) -> str:
        return request.headers.get("X-Bosh-Context-Id", "") if self.era.context_ids else ""

    # ------------------------------------------------------------------ info & tasks

    def on_info(self, request: Request, user: str) -> Response:
        return json_response(presenters.info(self.era, self.d.uuid, user, self.auth_mode, self.public_url))

    def on_oauth_token(self, request: Request, user: str) -> Response:
        """UAA-style token endpoint (see auth.py)."""
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        status, body = self.auth.token_request(value if scheme.lower() == "basic" else None,
                                               {k: v for k, v in request.form.items()})
        return json_response(body, status)

    def task_json(self, task: Task) -> dict[str, Any]:
        return task.to_json(self.era.task_keys, self.era.timestamp_null_while_running)

    def on_tasks(self, request: Request, user: str) -> Response:
        """`GET /tasks`: `state`, `limit` (< 1 counts as 1), `verbose` (1, the default, keeps
        the user-facing types); `deployment` and `context_id` only where the era has them."""
        with self.d._lock:
            tasks = list(self.d.tasks.values())
        if self.era.name == "2015":  # order_by(:timestamp.desc): the last state change
            tasks.sort(key=lambda t: (t.timestamp, t.id), reverse=True)
        else:
            tasks.sort(key=lambda t: t.id, reverse=True)
        states = [s for s in (request.args.get("state") or "").split(",") if s]
        if states:
            tasks = [t for t in tasks if t.state in states]
        if "deployment" in self.era.task_filters and request.args.get("deployment"):
            tasks = [t for t in tasks if t.deployment == request.args["deployment"]]
        if "context_id" in self.era.task_filters and request.args.get("context_id"):
            tasks = [t for t in tasks if t.context_id == request.args["context_id"]]
        if request.args.get("verbose", "1") == "1":
            tasks = [t for t in tasks if t.type in USER_FACING_TYPES]
        limit = request.args.get("limit")
        if limit is not None:
            tasks = tasks[: max(1, _int_param(limit) or 0)]
        return json_response([self.task_json(t) for t in tasks])

    def on_task(self, request: Request, user: str, task_id: int) -> Response:
        return json_response(self.task_json(self.d.task(task_id)))

    def on_task_output(self, request: Request, user: str, task_id: int) -> Response:
        task = self.d.task(task_id)
        kind = request.args.get("type", "debug")
        if kind == "soap":  # the legacy name of the cpi log
            kind = "cpi"
        if kind == "none":
            return Response(b"", status=204)
        if kind not in task.outputs:
            if self.era.name == "2015":  # the file `<task dir>/<type>` does not exist
                return Response(b"", status=204)
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
        body = self._json_body(request)
        states, types = body.get("states") or ["queued"], body.get("types") or None
        if not isinstance(states, list) or (types is not None and not isinstance(types, list)):
            raise DirectorError(40000, "'states' and 'types' must be arrays", 400)
        deployment = body.get("deployment") or None
        self.d.cancel_tasks([str(x) for x in states], [str(x) for x in types] if types else None,
                            str(deployment) if deployment else None)
        return Response(b"", status=204)

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            raise DirectorError(40000, "Invalid JSON body", 400)
        if not isinstance(body, dict):
            raise DirectorError(40000, "Invalid JSON body: expected an object", 400)
        return body

    # ------------------------------------------------------------------ configs, events, locks

    def on_configs(self, request: Request, user: str) -> Response:
        """`GET /configs` (2017 on): this BOSH-Lite has no cloud, runtime or cpi configs."""
        return json_response([])

    def on_runtime_configs(self, request: Request, user: str) -> Response:
        return json_response([])

    def on_cloud_configs(self, request: Request, user: str) -> Response:
        """`GET /cloud_configs?limit=N`: none uploaded. 1.3098 insisted on an integer `limit`."""
        if self.era.name == "2015":
            limit = request.args.get("limit")
            if not limit:
                return Response("limit is required", status=400, content_type="text/html;charset=utf-8")
            if _int_param(limit) is None:
                return Response(f"limit is invalid: '{limit}' is not an integer", status=400,
                                content_type="text/html;charset=utf-8")
        return json_response([])

    def on_events(self, request: Request, user: str) -> Response:
        """`GET /events` (1.3232 on): newest first, at most 200, with bosh's filters."""
        args = request.args
        times: dict[str, int | None] = {}
        for key in ("before_time", "after_time"):
            raw = args.get(key)
            times[key] = None
            if raw is not None:
                parsed = _int_param(raw)
                if parsed is None:
                    parsed = _parse_time(raw)
                if parsed is None:
                    word = key.split("_")[0]
                    return Response(f"Invalid {word} parameter: '{raw}' ", status=400)
                times[key] = parsed
        events = self.d.events.query(
            before_id=_int_param(args.get("before_id")), before_time=times["before_time"],
            after_time=times["after_time"],
            **{k: args.get(k) for k in ("task", "deployment", "instance", "user", "action", "object_type",
                                        "object_name")})
        return json_response([e.to_json() for e in events])

    def on_locks(self, request: Request, user: str) -> Response:
        """`GET /locks`: one entry per deployment lock held by a task (`bosh locks`)."""
        with self.d._lock:
            holders = sorted((name, task.id) for name, task in self.d._lock_holders.items())
        return json_response(presenters.locks(self.era, holders, self.d.lock_timeout))

    def on_package_matches(self, request: Request, user: str) -> Response:
        """`bosh upload-release` asks which packages the director already has: none (the
        simulator keeps no package blobs, so the whole tarball is always uploaded)."""
        return self._no_matches(request, "packages")

    def on_package_matches_compiled(self, request: Request, user: str) -> Response:
        """The same question for a compiled release's packages."""
        return self._no_matches(request, "compiled_packages")

    @staticmethod
    def _no_matches(request: Request, section: str) -> Response:
        """Both `/packages/matches*` routes: the manifest must hold a list under `section`
        (the message is the same for both, packages_controller.rb at 1.3098)."""
        try:
            manifest = yaml.safe_load(request.get_data(as_text=True) or "")
        except yaml.YAMLError:
            manifest = None
        if not isinstance(manifest, dict) or not isinstance(manifest.get(section), list):
            raise DirectorError(440001, "Manifest doesn't have a usable packages section", 400)
        return json_response([])

    # ------------------------------------------------------------------ deployments

    def on_deploy(self, request: Request, user: str) -> Response:
        args = request.args
        options: dict[str, Any] = {"recreate": _truthy(args.get("recreate")),
                                   "skip_drain": skip_drain_param(args.get("skip_drain"))}
        if self.era.name != "2015":  # query options of later directors
            options.update({"dry_run": _truthy(args.get("dry_run")), "fix": _truthy(args.get("fix")),
                            "canaries": args.get("canaries"), "max_in_flight": args.get("max_in_flight")})
        task = self.d.submit_deploy(request.get_data(as_text=True), user, options, self._context_id(request))
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
            deps = list(self.d.deployments.values())
            locked = set(self.d._lock_holders)
        return json_response(presenters.deployments(self.era, deps, locked))

    def on_deployment(self, request: Request, user: str, name: str) -> Response:
        return json_response({"manifest": self.d.get_deployment(name).manifest_text})

    def on_delete_deployment(self, request: Request, user: str, name: str) -> Response:
        task = self.d.submit_delete(name, user, force=_truthy(request.args.get("force")))
        return self.redirect_to_task(request, task)

    def _state_change(self, request: Request, user: str, name: str, job: str, index_or_id: str | None) -> Response:
        """`skip_drain`: today `skip_drain=true` skips the drain of the named job (`*`: all);
        1.3098 ignored it at job level and, at instance level, always skipped the drain of
        the job's instances (`'skip_drain' => params[:job]`, unconditionally)."""
        args = request.args
        state = args.get("state")
        if not state:
            if self.era.name == "2015" and index_or_id is None:
                raise DirectorError(100, f"Missing operation on job {self.era.q(job)}", 500)
            raise DirectorError(40001, "Required parameter 'state' was not specified", 400)
        if self.era.name == "2015":
            options: dict[str, Any] = {"skip_drain": skip_drain_param(job) if index_or_id is not None else False}
        else:
            options = {"skip_drain": skip_drain_param(job) if _truthy(args.get("skip_drain")) else False,
                       "fix": _truthy(args.get("fix")), "dry_run": _truthy(args.get("dry_run")),
                       "canaries": args.get("canaries"), "max_in_flight": args.get("max_in_flight")}
        task = self.d.submit_state_change(name, job, index_or_id, state, request.get_data(as_text=True), user,
                                          options, self._context_id(request))
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
                                          self._context_id(request), description=f"{action} instance")
        return self.redirect_to_task(request, task)

    def on_errands(self, request: Request, user: str, name: str) -> Response:
        """`GET /deployments/:name/errands` (`bosh errands`): the `lifecycle: errand` groups."""
        dep = self.d.get_deployment(name)
        with self.d._lock:
            groups = list(dep.plan.groups)
        return json_response([{"name": g.name} for g in groups if g.is_errand])

    def on_run_errand(self, request: Request, user: str, name: str, errand: str) -> Response:
        """`bosh run-errand`: JSON body {"keep-alive": bool, "when-changed": bool, "instances": [...]}."""
        body = self._json_body(request)
        task = self.d.submit_errand(name, errand, user, bool(body.get("keep-alive")), self._context_id(request))
        return self.redirect_to_task(request, task)

    def on_vms(self, request: Request, user: str, name: str) -> Response:
        if request.args.get("format") == "full":
            return self.redirect_to_task(request, self.d.submit_vm_state(name, user, "vms"))
        dep = self.d.get_deployment(name)
        with self.d._lock:
            instances = sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
        return json_response(presenters.vms(self.era, instances))

    def on_instances(self, request: Request, user: str, name: str) -> Response:
        if request.args.get("format") == "full":
            return self.redirect_to_task(request, self.d.submit_vm_state(name, user, "instances"))
        dep = self.d.get_deployment(name)
        with self.d._lock:
            instances = sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
            errands = {g.name for g in dep.plan.groups if g.is_errand}
        return json_response(presenters.instances(instances, errands))

    # ------------------------------------------------------------------ agents: ssh, logs

    def on_ssh(self, request: Request, user: str, name: str) -> Response:
        """`POST /deployments/:d/ssh` {deployment_name, target{job, indexes, ids}, command, params}."""
        body = self._json_body(request)
        task = self.d.agents.submit_ssh(name, body, user)
        return self.redirect_to_task(request, task)

    def on_logs(self, request: Request, user: str, name: str, job: str, index_or_id: str) -> Response:
        """`GET /deployments/:d/jobs/:job/:index/logs?type=job|agent&filters=a,b`."""
        kind = (request.args.get("type") or "").strip() or "job"
        filters = [f for f in re.split(r"[\s,]+", (request.args.get("filters") or "").strip()) if f]
        task = self.d.agents.submit_fetch_logs(name, job, index_or_id, kind, filters, user)
        return self.redirect_to_task(request, task)

    def on_resource(self, request: Request, user: str, blobstore_id: str) -> Response:
        """`GET /resources/:id`: a blob (e.g. a logs tarball), gzip as nginx sends it."""
        data = self.d.agents.blob(blobstore_id)
        return Response(data, status=200, content_type="application/x-gzip")

    # ------------------------------------------------------------------ releases & stemcells

    def on_releases(self, request: Request, user: str) -> Response:
        deployed = self.d.deployed_releases()
        with self.d._lock:
            versions = {name: sorted(v.values(), key=lambda r: version_key(r.version))
                        for name, v in self.d.releases.items()}
        return json_response(presenters.releases(versions, deployed))

    def on_release(self, request: Request, user: str, name: str) -> Response:
        """`GET /releases/:name[?version=V]`: the release's jobs and packages."""
        versions = self.d.release_versions(name.strip())
        wanted = request.args.get("version")
        if wanted is None:
            return json_response(presenters.release(versions))
        rv = next((v for v in versions if v.version == wanted), None)
        if rv is None:  # an exact version only: `latest` is a manifest's word, not this route's
            raise errors.release_version_not_found(name.strip(), wanted, self.era.q)
        return json_response(presenters.release_version(self.era, rv, self.d.compiled_packages(rv)))

    def on_stemcells(self, request: Request, user: str) -> Response:
        deployed = self.d.deployed_stemcells()
        with self.d._lock:
            cells = list(self.d.stemcells)
        return json_response(presenters.stemcells(self.era, cells, deployed))

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
                return read_upload(f.stream, what), None
            raise DirectorError(40001, "No file in the multipart upload", 400)
        # `application/x-compressed`: nginx's upload module turns the body into a file for the director
        return read_upload(request.stream, what), None

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


def _parse_time(text: str) -> int | None:
    """Ruby's `Time.parse` for the formats `bosh events` sends (RFC 3339 / ISO 8601)."""
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
