"""Cloud Controller HTTP layer: werkzeug routing, auth, JSON, pagination over `CloudController`.

Contract: wire-contracts §4 (v2), the deployed era's experimental `/v3` (`v3.py`), and the
internal endpoints of the ssh proxy (`/internal/apps/<guid>/ssh_access/<index>`, §4.8) and
of the traffic controller (`/internal/log_access/<guid>`). There is no `GET /`: the CCs of
cf v220 and v231 answer it, like any unknown path, with the 404 of lib/sinatra/vcap.rb
(`CF-NotFound`, code 10000). Every answer carries `X-VCAP-Request-ID` (vcap.rb:118 at v220,
middleware/vcap_request_id.rb:16 at v231): the router's request id, `::`, a fresh uuid.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import Job
from simulator.cloudcontroller.presenters import Presenter
from simulator.cloudcontroller.query import apply_filters, paginate
from simulator.cloudcontroller.uaa_http import bearer_token
from simulator.cloudcontroller.v3 import V3Views, page_args
from simulator.cloudcontroller.v3 import paginate as v3_paginate

if TYPE_CHECKING:
    from simulator.cloudcontroller.cc import CloudController

ORG_ROLES = "users,managers,billing_managers,auditors"
SPACE_ROLES = "developers,managers,auditors"
READ_SCOPES = {"cloud_controller.read", "cloud_controller.admin", "cloud_controller.admin_read_only"}
WRITE_SCOPES = {"cloud_controller.write", "cloud_controller.admin"}


def _rules() -> list[Rule]:
    r = Rule
    return [
        r("/v2/info", endpoint="info", methods=["GET"]),
        r("/v3/apps", endpoint="v3_apps", methods=["GET"]),
        r("/v3/apps/<guid>", endpoint="v3_app", methods=["GET"]),
        r("/v3/processes", endpoint="v3_processes", methods=["GET"]),
        r("/v3/processes/<guid>", endpoint="v3_process", methods=["GET"]),
        r("/v3/processes/<guid>/instances/<index>", endpoint="v3_terminate", methods=["DELETE"]),
        r("/v3/processes/<guid>/stats", endpoint="v3_process_stats", methods=["GET"]),
        r("/v2/organizations", endpoint="orgs", methods=["GET", "POST"]),
        r("/v2/organizations/<guid>", endpoint="org", methods=["GET", "PUT", "DELETE"]),
        r("/v2/organizations/<guid>/spaces", endpoint="org_spaces", methods=["GET"]),
        r("/v2/organizations/<guid>/private_domains", endpoint="empty_list", methods=["GET"]),
        r("/v2/organizations/<guid>/domains", endpoint="shared_domains", methods=["GET"]),
        r(f"/v2/organizations/<guid>/<any({ORG_ROLES}):role>", endpoint="org_role",
          methods=["GET", "PUT", "DELETE"]),
        r(f"/v2/organizations/<guid>/<any({ORG_ROLES}):role>/<user>", endpoint="org_role",
          methods=["PUT", "DELETE"]),
        r("/v2/spaces", endpoint="spaces", methods=["GET", "POST"]),
        r("/v2/spaces/<guid>", endpoint="space", methods=["GET", "PUT", "DELETE"]),
        r("/v2/spaces/<guid>/apps", endpoint="space_apps", methods=["GET"]),
        r("/v2/spaces/<guid>/routes", endpoint="space_routes", methods=["GET"]),
        r("/v2/spaces/<guid>/summary", endpoint="space_summary", methods=["GET"]),
        r("/v2/spaces/<guid>/service_instances", endpoint="empty_list", methods=["GET"]),
        r(f"/v2/spaces/<guid>/<any({SPACE_ROLES}):role>", endpoint="space_role",
          methods=["GET", "PUT", "DELETE"]),
        r(f"/v2/spaces/<guid>/<any({SPACE_ROLES}):role>/<user>", endpoint="space_role",
          methods=["PUT", "DELETE"]),
        r("/v2/shared_domains", endpoint="shared_domains", methods=["GET"]),
        r("/v2/shared_domains/<guid>", endpoint="shared_domain", methods=["GET"]),
        r("/v2/domains", endpoint="shared_domains", methods=["GET"]),
        r("/v2/domains/<guid>", endpoint="shared_domain", methods=["GET"]),
        r("/v2/private_domains", endpoint="empty_list", methods=["GET"]),
        r("/v2/stacks", endpoint="stacks", methods=["GET"]),
        r("/v2/stacks/<guid>", endpoint="stack", methods=["GET"]),
        r("/v2/apps", endpoint="apps", methods=["GET", "POST"]),
        r("/v2/apps/<guid>", endpoint="app", methods=["GET", "PUT", "DELETE"]),
        r("/v2/apps/<guid>/bits", endpoint="bits", methods=["PUT"]),
        r("/v2/apps/<guid>/restage", endpoint="restage", methods=["POST"]),
        r("/v2/apps/<guid>/instances", endpoint="instances", methods=["GET"]),
        r("/v2/apps/<guid>/instances/<index>", endpoint="instance", methods=["DELETE"]),
        r("/v2/apps/<guid>/stats", endpoint="stats", methods=["GET"]),
        r("/v2/apps/<guid>/summary", endpoint="app_summary", methods=["GET"]),
        r("/v2/apps/<guid>/events", endpoint="app_events", methods=["GET"]),
        r("/v2/apps/<guid>/service_bindings", endpoint="empty_list", methods=["GET"]),
        r("/v2/apps/<guid>/routes", endpoint="app_routes", methods=["GET"]),
        r("/v2/apps/<guid>/routes/<route>", endpoint="app_route", methods=["PUT", "DELETE"]),
        r("/v2/routes", endpoint="routes", methods=["GET", "POST"]),
        r("/v2/routes/<guid>", endpoint="route", methods=["GET", "DELETE"]),
        r("/v2/routes/<guid>/apps", endpoint="route_apps", methods=["GET"]),
        r("/v2/routes/<guid>/apps/<app>", endpoint="route_app", methods=["PUT", "DELETE"]),
        r("/v2/routes/reserved/domain/<domain>/host/<host>", endpoint="route_reserved", methods=["GET"]),
        r("/v2/resource_match", endpoint="resource_match", methods=["PUT"]),
        r("/v2/jobs/<guid>", endpoint="job", methods=["GET"]),
        r("/v2/events", endpoint="events", methods=["GET"]),
        r("/v2/config/feature_flags", endpoint="feature_flags", methods=["GET"]),
        r("/internal/apps/<guid>/ssh_access/<int:index>", endpoint="ssh_access", methods=["GET"]),
        r("/internal/log_access/<guid>", endpoint="log_access", methods=["GET"]),
    ]


PUBLIC = {"info"}
REQUEST_ID_HEADER = "X-VCAP-Request-ID"
_REQUEST_ID_JUNK = re.compile(r"[^\w\-]")


def request_id(environ: dict[str, Any]) -> str:
    """`<incoming X-Vcap-Request-Id, cleaned, 255 max>::<uuid>`, or a bare uuid."""
    incoming = environ.get("HTTP_X_VCAP_REQUEST_ID") or environ.get("HTTP_X_REQUEST_ID")
    if incoming:
        return f"{_REQUEST_ID_JUNK.sub('', incoming)[:255]}::{uuid.uuid4()}"
    return str(uuid.uuid4())


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json;charset=utf-8",
                    headers=headers)


class CloudControllerApp:
    def __init__(self, cc: CloudController) -> None:
        self.cc = cc
        self.present = Presenter(cc)
        self.v3 = V3Views(cc)
        self.url_map = Map(_rules(), strict_slashes=False)

    # ------------------------------------------------------------------ dispatch

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            try:
                endpoint, args = self.url_map.bind_to_environ(environ).match()
            except HTTPException:
                raise CCError("NotFound")
            claims = None if endpoint in PUBLIC else self._authenticate(request)
            if claims is not None:
                wanted = READ_SCOPES if request.method == "GET" else WRITE_SCOPES
                if not wanted & set(claims.get("scope") or []):
                    raise CCError("InsufficientScope")
            request.environ["cc.claims"] = claims
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except CCError as exc:  # v2 and v3 alike (ErrorPresenter of both eras)
            response = _json(exc.to_json(), exc.status)
        response.headers[REQUEST_ID_HEADER] = request_id(environ)
        return response(environ, start_response)

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = bearer_token(request)
        if token is None:
            raise CCError("NotAuthenticated")
        claims = self.cc.access.verify(token)
        if claims is None:
            raise CCError("InvalidAuthToken")
        return claims

    @staticmethod
    def _claims(request: Request) -> dict[str, Any]:
        return request.environ.get("cc.claims") or {}

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise CCError("MessageParseError", raw[:100].decode("utf-8", "replace"))
        if not isinstance(body, dict):
            raise CCError("MessageParseError", "expected a JSON object")
        return body

    @staticmethod
    def _depth(request: Request) -> int:
        try:
            return max(0, min(2, int(request.args.get("inline-relations-depth", 0))))
        except ValueError:
            raise CCError("BadQueryParameter", "inline-relations-depth")

    def _collection(self, request: Request, records: list[Any], getters: dict[str, Any]) -> Response:
        filtered = apply_filters(records, request.args.getlist("q"), getters)
        page = paginate(filtered, request.path, request.args)
        depth = self._depth(request)
        return _json({"total_results": page.total_results, "total_pages": page.total_pages,
                      "prev_url": page.prev_url, "next_url": page.next_url,
                      "resources": [self.present.render(r, depth) for r in page.items]})

    def _resource(self, request: Request, record: Any, status: int = 200) -> Response:
        headers = {"Location": f"/v2/{_collection_of(record)}/{record.guid}"} if status == 201 else None
        return _json(self.present.render(record, self._depth(request)), status, headers)

    def _deleted(self, request: Request) -> Response:
        if request.args.get("async") == "true":
            job = self.cc.store.add("jobs", Job(status="finished"))
            return _json(self.present.job(job), 202)
        return Response(status=204)

    # ------------------------------------------------------------------ getters for q filters

    def _space_org(self, space_guid: str) -> str | None:
        space = self.cc.store.get("spaces", space_guid)
        return space.organization_guid if space else None

    def _app_getters(self) -> dict[str, Any]:
        return {"name": lambda a: a.name, "space_guid": lambda a: a.space_guid,
                "organization_guid": lambda a: self._space_org(a.space_guid),
                "diego": lambda a: a.diego, "stack_guid": lambda a: a.stack_guid}

    def _route_getters(self) -> dict[str, Any]:
        return {"host": lambda r: r.host, "domain_guid": lambda r: r.domain_guid, "path": lambda r: r.path,
                "port": lambda r: None,
                "space_guid": lambda r: r.space_guid,
                "organization_guid": lambda r: self._space_org(r.space_guid)}

    SPACE_GETTERS = {"name": lambda s: s.name, "organization_guid": lambda s: s.organization_guid}
    ORG_GETTERS = {"name": lambda o: o.name, "status": lambda o: o.status}
    NAME_GETTERS = {"name": lambda d: d.name}
    EVENT_GETTERS = {"type": lambda e: e.type, "actee": lambda e: e.actee, "timestamp": lambda e: e.timestamp,
                     "space_guid": lambda e: e.space_guid, "organization_guid": lambda e: e.organization_guid}

    # ------------------------------------------------------------------ discovery

    def on_info(self, request: Request) -> Response:
        token = bearer_token(request)
        claims = self.cc.access.verify(token) if token else None
        return _json(self.cc.settings.info(claims.get("user_id") if claims else None))

    # ------------------------------------------------------------------ v3 (the era's experimental API)

    def _v3_list(self, request: Request, records: list[Any], render: Any, allowed: tuple[str, ...]) -> Response:
        unknown = [k for k in request.args if k not in ("page", "per_page", *allowed)]
        if unknown:
            raise CCError("BadQueryParameter", "Unknown query param(s) '" + "', '".join(unknown) + "'")
        page, per_page = page_args(request.args)
        return _json(v3_paginate(records, request.path, page, per_page, render))

    def on_v3_apps(self, request: Request) -> Response:
        return self._v3_list(request, self.v3.apps(), dict,
                             ("names", "guids", "organization_guids", "space_guids", "order_by"))

    def on_v3_app(self, request: Request, guid: str) -> Response:
        return _json(self.v3.app(guid))

    def on_v3_processes(self, request: Request) -> Response:
        return self._v3_list(request, self.v3.processes(), self.v3.process, ())

    def on_v3_process(self, request: Request, guid: str) -> Response:
        return _json(self.v3.process(self.v3.process_record(guid)))

    def on_v3_terminate(self, request: Request, guid: str, index: str) -> Response:
        self.v3.terminate(guid, index)
        return Response(status=204)

    def on_v3_process_stats(self, request: Request, guid: str) -> Response:
        return _json(self.v3.process_stats(guid))

    # ------------------------------------------------------------------ organizations and spaces

    def on_orgs(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.spaces.create_org(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("organizations"), self.ORG_GETTERS)

    def on_org(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.spaces.update_org(guid, self._body(request)), 201)
        if request.method == "DELETE":
            self.cc.spaces.delete_org(guid, request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.spaces.org(guid))

    def on_org_spaces(self, request: Request, guid: str) -> Response:
        self.cc.spaces.org(guid)
        return self._collection(request, self.cc.store.find("spaces", organization_guid=guid),
                                self.SPACE_GETTERS)

    def on_org_role(self, request: Request, guid: str, role: str, user: str | None = None) -> Response:
        org = self.cc.spaces.org(guid)
        if request.method == "GET":
            return self._collection(request, [], {})
        if request.method == "DELETE" and user is not None:
            return Response(status=204)
        return self._resource(request, org, 201)

    def on_spaces(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.spaces.create_space(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("spaces"), self.SPACE_GETTERS)

    def on_space(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.spaces.update_space(guid, self._body(request)), 201)
        if request.method == "DELETE":
            self.cc.spaces.delete_space(guid, request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.spaces.space(guid))

    def on_space_role(self, request: Request, guid: str, role: str, user: str | None = None) -> Response:
        space = self.cc.spaces.space(guid)
        if request.method == "GET":
            return self._collection(request, [], {})
        if request.method == "DELETE" and user is not None:
            return Response(status=204)
        return self._resource(request, space, 201)

    def on_space_apps(self, request: Request, guid: str) -> Response:
        self.cc.spaces.space(guid)
        return self._collection(request, self.cc.store.find("apps", space_guid=guid), self._app_getters())

    def on_space_routes(self, request: Request, guid: str) -> Response:
        self.cc.spaces.space(guid)
        return self._collection(request, self.cc.store.find("routes", space_guid=guid),
                                self._route_getters())

    def on_space_summary(self, request: Request, guid: str) -> Response:
        return _json(self.present.space_summary(self.cc.spaces.space(guid)))

    def on_empty_list(self, request: Request, guid: str | None = None) -> Response:
        return self._collection(request, [], {"name": lambda r: None})

    # ------------------------------------------------------------------ domains, stacks

    def on_shared_domains(self, request: Request, guid: str | None = None) -> Response:
        return self._collection(request, self.cc.routes.shared_domains(), self.NAME_GETTERS)

    def on_shared_domain(self, request: Request, guid: str) -> Response:
        return self._resource(request, self.cc.routes.domain(guid))

    def on_stacks(self, request: Request) -> Response:
        return self._collection(request, self.cc.store.all("stacks"), self.NAME_GETTERS)

    def on_stack(self, request: Request, guid: str) -> Response:
        stack = self.cc.store.get("stacks", guid)
        if stack is None:
            raise CCError("StackNotFound", guid)
        return self._resource(request, stack)

    def on_feature_flags(self, request: Request) -> Response:
        return _json([])

    # ------------------------------------------------------------------ apps

    def on_apps(self, request: Request) -> Response:
        if request.method == "POST":
            app = self.cc.apps.create_app(self._body(request), self._claims(request))
            return self._resource(request, app, 201)
        return self._collection(request, self.cc.store.all("apps"), self._app_getters())

    def on_app(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            app = self.cc.apps.update_app(guid, self._body(request), self._claims(request))
            return self._resource(request, app, 201)
        if request.method == "DELETE":
            self.cc.apps.delete_app(guid, self._claims(request), request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.apps.app(guid))

    def on_bits(self, request: Request, guid: str) -> Response:
        self.cc.apps.app(guid)
        resources = request.form.get("resources")
        upload = request.files.get("application")
        job = self.cc.apps.upload_bits(guid, resources, upload.read() if upload is not None else None)
        if request.args.get("async") == "true":
            return _json(self.present.job(job), 201)
        if job.error_details:
            raise CCError("AppBitsUploadInvalid", job.error_details.get("description", ""))
        return _json({}, 201)

    def on_restage(self, request: Request, guid: str) -> Response:
        return self._resource(request, self.cc.apps.restage(guid, self._claims(request)), 201)

    def on_instances(self, request: Request, guid: str) -> Response:
        return _json(self.cc.instances.instances(guid))

    def on_instance(self, request: Request, guid: str, index: str) -> Response:
        try:
            number = int(index)
        except ValueError:
            raise CCError("InstancesError", f"Expected an instance index but got {index[:20]!r}")
        self.cc.instances.restart_instance(guid, number)
        return Response(status=204)

    def on_stats(self, request: Request, guid: str) -> Response:
        return _json(self.cc.instances.stats(guid))

    def on_app_summary(self, request: Request, guid: str) -> Response:
        return _json(self.present.app_summary(self.cc.apps.app(guid)))

    def on_app_events(self, request: Request, guid: str) -> Response:
        self.cc.apps.app(guid)
        return self._collection(request, self.cc.store.find("events", actee=guid), self.EVENT_GETTERS)

    def on_app_routes(self, request: Request, guid: str) -> Response:
        self.cc.apps.app(guid)
        return self._collection(request, self.cc.routes.routes_of_app(guid), self._route_getters())

    def on_app_route(self, request: Request, guid: str, route: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.routes.map_route(guid, route), 201)
        return self._resource(request, self.cc.routes.unmap_route(guid, route), 201)

    # ------------------------------------------------------------------ routes

    def on_routes(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.routes.create_route(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("routes"), self._route_getters())

    def on_route(self, request: Request, guid: str) -> Response:
        if request.method == "DELETE":
            self.cc.routes.delete_route(guid)
            return self._deleted(request)
        return self._resource(request, self.cc.routes.route(guid))

    def on_route_apps(self, request: Request, guid: str) -> Response:
        route = self.cc.routes.route(guid)
        apps = [a for a in (self.cc.store.get("apps", g) for g in route.app_guids) if a]
        return self._collection(request, apps, self._app_getters())

    def on_route_app(self, request: Request, guid: str, app: str) -> Response:
        self.cc.routes.route(guid)
        if request.method == "PUT":
            self.cc.routes.map_route(app, guid)
        else:
            self.cc.routes.unmap_route(app, guid)
        return self._resource(request, self.cc.routes.route(guid), 201)

    def on_route_reserved(self, request: Request, domain: str, host: str) -> Response:
        if self.cc.routes.route_reserved(domain, host, request.args.get("path", "")):
            return Response(status=204)
        raise CCError("RouteNotFound", f"{host} on {domain}")

    # ------------------------------------------------------------------ misc

    def on_resource_match(self, request: Request) -> Response:
        try:
            json.loads(request.get_data() or b"[]")
        except ValueError:
            raise CCError("MessageParseError", "resource_match")
        return _json([])

    def on_job(self, request: Request, guid: str) -> Response:
        job = self.cc.store.get("jobs", guid)
        if job is None:  # completed and cleaned up: CC's null job
            return _json({"metadata": {"guid": "0", "created_at": "1970-01-01T00:00:00Z", "url": "/v2/jobs/0"},
                          "entity": {"guid": "0", "status": "finished"}})
        return _json(self.present.job(job))

    def on_events(self, request: Request) -> Response:
        return self._collection(request, self.cc.store.all("events"), self.EVENT_GETTERS)

    def on_ssh_access(self, request: Request, guid: str, index: int) -> Response:
        try:
            process_guid = self.cc.access.ssh_access(self._claims(request), guid, index)
        except PermissionError as exc:
            raise CCError("InvalidRequest", description=str(exc))
        return _json({"process_guid": process_guid})

    def on_log_access(self, request: Request, guid: str) -> Response:
        """LogAccessController#lookup (app/controllers/internal/log_access_controller.rb
        @64d935a): 200 when the app exists, else 404, no body; the traffic controller asks
        this with the user's token before serving any log."""
        found = self.cc.apps.app_by_guid(guid) is not None
        return Response(status=200 if found else 404, content_type="application/json;charset=utf-8")


def _collection_of(record: Any) -> str:
    return {"Organization": "organizations", "Space": "spaces", "App": "apps", "Route": "routes",
            "Domain": "shared_domains", "Stack": "stacks", "Event": "events", "Job": "jobs"}[type(record).__name__]
