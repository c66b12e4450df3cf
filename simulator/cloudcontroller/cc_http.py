"""Cloud Controller HTTP layer: werkzeug routing, auth, JSON, pagination over `CloudController`.

Contract: wire-contracts §4 (v2), plus the root `/` and a minimal `/v3` subset for cf CLI
6.53 (organizations, spaces, and read-only app/process/stats/droplet views: `v3.py`), and the
simulator-internal ssh_access endpoint (§4.8).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import Job
from simulator.cloudcontroller.presenters import Presenter
from simulator.cloudcontroller.query import apply_filters, paginate
from simulator.cloudcontroller.uaa_http import bearer_token
from simulator.cloudcontroller.v3 import V3Views

if TYPE_CHECKING:
    from simulator.cloudcontroller.cc import CloudController

ORG_ROLES = "users,managers,billing_managers,auditors"
SPACE_ROLES = "developers,managers,auditors"
READ_SCOPES = {"cloud_controller.read", "cloud_controller.admin", "cloud_controller.admin_read_only"}
WRITE_SCOPES = {"cloud_controller.write", "cloud_controller.admin"}


def _rules() -> list[Rule]:
    r = Rule
    return [
        r("/", endpoint="root", methods=["GET"]),
        r("/v2/info", endpoint="info", methods=["GET"]),
        r("/v3", endpoint="v3_root", methods=["GET"]),
        r("/v3/", endpoint="v3_root", methods=["GET"]),
        r("/v3/organizations", endpoint="v3_orgs", methods=["GET"]),
        r("/v3/organizations/<guid>", endpoint="v3_org", methods=["GET"]),
        r("/v3/spaces", endpoint="v3_spaces", methods=["GET"]),
        r("/v3/spaces/<guid>", endpoint="v3_space", methods=["GET"]),
        r("/v3/apps", endpoint="v3_apps", methods=["GET"]),
        r("/v3/apps/<guid>", endpoint="v3_app", methods=["GET"]),
        r("/v3/apps/<guid>/processes", endpoint="v3_app_processes", methods=["GET"]),
        r("/v3/apps/<guid>/droplets/current", endpoint="v3_current_droplet", methods=["GET"]),
        r("/v3/apps/<guid>/processes/<ptype>/instances/<index>", endpoint="v3_instance", methods=["DELETE"]),
        r("/v3/processes/<guid>", endpoint="v3_process", methods=["GET"]),
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
    ]


PUBLIC = {"root", "info", "v3_root"}


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
        v3 = request.path.startswith("/v3")
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
        except CCError as exc:
            body: Any = exc.to_json()
            if v3:
                body = {"errors": [{"code": exc.code, "title": f"CF-{exc.name}", "detail": exc.description}]}
            response = _json(body, exc.status)
        return response(environ, start_response)

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = bearer_token(request)
        if token is None:
            raise CCError("NotAuthenticated")
        claims = self.cc._verify(token)
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

    def on_root(self, request: Request) -> Response:
        ep = self.cc.endpoints()
        ssh: dict[str, Any] | None = None
        if self.cc.allow_app_ssh_access():
            ssh = {"href": ep["ssh"], "meta": {
                "host_key_fingerprint": self.cc.ssh_fingerprint(),
                "oauth_client": self.cc.prop("app_ssh.oauth_client_id", "ssh-proxy")}}
        return _json({"links": {
            "self": {"href": ep["api"]}, "bits_service": None,
            "cloud_controller_v2": {"href": f"{ep['api']}/v2", "meta": {"version": "2.39.0"}},
            "cloud_controller_v3": {"href": f"{ep['api']}/v3", "meta": {"version": "3.0.0"}},
            "network_policy_v0": None, "network_policy_v1": None, "credhub": None,
            "login": {"href": ep["login"]}, "uaa": {"href": ep["uaa"]},
            "routing": {"href": ep["routing"]}, "logging": {"href": ep["doppler"]},
            "log_cache": {"href": ep["log_cache"]}, "log_stream": None, "app_ssh": ssh}})

    def on_info(self, request: Request) -> Response:
        token = bearer_token(request)
        claims = self.cc._verify(token) if token else None
        return _json(self.cc.info(claims.get("user_id") if claims else None))

    def on_v3_root(self, request: Request) -> Response:
        base = self.cc.endpoints()["api"] + "/v3"
        return _json({"links": {"self": {"href": base},
                                "organizations": {"href": f"{base}/organizations"},
                                "spaces": {"href": f"{base}/spaces"},
                                "apps": {"href": f"{base}/apps"},
                                "processes": {"href": f"{base}/processes"}}})

    # ------------------------------------------------------------------ v3 subset

    def _v3_list(self, request: Request, records: list[Any], render: Any) -> Response:
        try:
            page = int(request.args.get("page", 1))
            per_page = int(request.args.get("per_page", 50))
        except ValueError:
            raise CCError("BadQueryParameter", "page")
        total = len(records)
        pages = max(1, -(-total // per_page))
        base = self.cc.endpoints()["api"] + request.path
        items = records[(page - 1) * per_page: page * per_page]
        return _json({"pagination": {
            "total_results": total, "total_pages": pages,
            "first": {"href": f"{base}?page=1&per_page={per_page}"},
            "last": {"href": f"{base}?page={pages}&per_page={per_page}"},
            "next": {"href": f"{base}?page={page + 1}&per_page={per_page}"} if page < pages else None,
            "previous": {"href": f"{base}?page={page - 1}&per_page={per_page}"} if page > 1 else None},
            "resources": [render(r) for r in items]})

    @staticmethod
    def _csv_arg(request: Request, name: str) -> list[str] | None:
        value = request.args.get(name)
        return None if value is None else [v for v in value.split(",") if v]

    def _v3_org(self, org: Any) -> dict[str, Any]:
        base = self.cc.endpoints()["api"]
        return {"guid": org.guid, "name": org.name, "created_at": org.created_at,
                "updated_at": org.updated_at or org.created_at, "suspended": org.status == "suspended",
                "relationships": {"quota": {"data": None}}, "metadata": {"labels": {}, "annotations": {}},
                "links": {"self": {"href": f"{base}/v3/organizations/{org.guid}"}}}

    def _v3_space(self, space: Any) -> dict[str, Any]:
        base = self.cc.endpoints()["api"]
        return {"guid": space.guid, "name": space.name, "created_at": space.created_at,
                "updated_at": space.updated_at or space.created_at,
                "relationships": {"organization": {"data": {"guid": space.organization_guid}},
                                  "quota": {"data": None}},
                "metadata": {"labels": {}, "annotations": {}},
                "links": {"self": {"href": f"{base}/v3/spaces/{space.guid}"},
                          "organization": {"href": f"{base}/v3/organizations/{space.organization_guid}"}}}

    def on_v3_orgs(self, request: Request) -> Response:
        names, guids = self._csv_arg(request, "names"), self._csv_arg(request, "guids")
        orgs = [o for o in self.cc.store.all("organizations")
                if (names is None or o.name in names) and (guids is None or o.guid in guids)]
        return self._v3_list(request, orgs, self._v3_org)

    def on_v3_org(self, request: Request, guid: str) -> Response:
        org = self.cc.store.get("organizations", guid)
        if org is None:
            raise CCError("ResourceNotFound", "Organization not found")
        return _json(self._v3_org(org))

    def on_v3_spaces(self, request: Request) -> Response:
        names = self._csv_arg(request, "names")
        guids = self._csv_arg(request, "guids")
        orgs = self._csv_arg(request, "organization_guids")
        spaces = [s for s in self.cc.store.all("spaces")
                  if (names is None or s.name in names) and (guids is None or s.guid in guids)
                  and (orgs is None or s.organization_guid in orgs)]
        return self._v3_list(request, spaces, self._v3_space)

    def on_v3_space(self, request: Request, guid: str) -> Response:
        space = self.cc.store.get("spaces", guid)
        if space is None:
            raise CCError("ResourceNotFound", "Space not found")
        return _json(self._v3_space(space))

    def _v3_app_record(self, guid: str) -> Any:
        app = self.cc.store.get("apps", guid)
        if app is None:
            raise CCError("ResourceNotFound", "App not found")
        return app

    def on_v3_apps(self, request: Request) -> Response:
        apps = self.v3.apps(self._csv_arg(request, "names"), self._csv_arg(request, "space_guids"),
                            self._csv_arg(request, "guids"), self._csv_arg(request, "organization_guids"))
        return self._v3_list(request, apps, self.v3.app)

    def on_v3_app(self, request: Request, guid: str) -> Response:
        return _json(self.v3.app(self._v3_app_record(guid)))

    def on_v3_app_processes(self, request: Request, guid: str) -> Response:
        app = self._v3_app_record(guid)
        types = self._csv_arg(request, "types")
        processes = [app] if types is None or "web" in types else []
        return self._v3_list(request, processes, self.v3.process)

    def on_v3_current_droplet(self, request: Request, guid: str) -> Response:
        return _json(self.v3.current_droplet(self._v3_app_record(guid)))

    def on_v3_instance(self, request: Request, guid: str, ptype: str, index: str) -> Response:
        """`cf restart-app-instance` on v3: the same Diego stop-index as the v2 DELETE."""
        app = self._v3_app_record(guid)
        if ptype != "web":
            raise CCError("ResourceNotFound", "Process not found")
        if not index.isdigit() or int(index) >= app.instances:
            raise CCError("ResourceNotFound", "Instance not found")
        self.cc.restart_instance(guid, int(index))
        return Response(status=204)

    def _v3_process_record(self, guid: str) -> Any:
        app = self.cc.store.get("apps", guid)  # a v2 app's web process has the app's guid
        if app is None:
            raise CCError("ResourceNotFound", "Process not found")
        return app

    def on_v3_process(self, request: Request, guid: str) -> Response:
        return _json(self.v3.process(self._v3_process_record(guid)))

    def on_v3_process_stats(self, request: Request, guid: str) -> Response:
        return _json({"resources": self.v3.process_stats(self._v3_process_record(guid))})

    # ------------------------------------------------------------------ organizations and spaces

    def on_orgs(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.create_org(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("organizations"), self.ORG_GETTERS)

    def on_org(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.update_org(guid, self._body(request)), 201)
        if request.method == "DELETE":
            self.cc.delete_org(guid, request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.org(guid))

    def on_org_spaces(self, request: Request, guid: str) -> Response:
        self.cc.org(guid)
        return self._collection(request, self.cc.store.find("spaces", organization_guid=guid),
                                self.SPACE_GETTERS)

    def on_org_role(self, request: Request, guid: str, role: str, user: str | None = None) -> Response:
        org = self.cc.org(guid)
        if request.method == "GET":
            return self._collection(request, [], {})
        if request.method == "DELETE" and user is not None:
            return Response(status=204)
        return self._resource(request, org, 201)

    def on_spaces(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.create_space(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("spaces"), self.SPACE_GETTERS)

    def on_space(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.update_space(guid, self._body(request)), 201)
        if request.method == "DELETE":
            self.cc.delete_space(guid, request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.space(guid))

    def on_space_role(self, request: Request, guid: str, role: str, user: str | None = None) -> Response:
        space = self.cc.space(guid)
        if request.method == "GET":
            return self._collection(request, [], {})
        if request.method == "DELETE" and user is not None:
            return Response(status=204)
        return self._resource(request, space, 201)

    def on_space_apps(self, request: Request, guid: str) -> Response:
        self.cc.space(guid)
        return self._collection(request, self.cc.store.find("apps", space_guid=guid), self._app_getters())

    def on_space_routes(self, request: Request, guid: str) -> Response:
        self.cc.space(guid)
        return self._collection(request, self.cc.store.find("routes", space_guid=guid),
                                self._route_getters())

    def on_space_summary(self, request: Request, guid: str) -> Response:
        return _json(self.present.space_summary(self.cc.space(guid)))

    def on_empty_list(self, request: Request, guid: str | None = None) -> Response:
        return self._collection(request, [], {"name": lambda r: None})

    # ------------------------------------------------------------------ domains, stacks

    def on_shared_domains(self, request: Request, guid: str | None = None) -> Response:
        return self._collection(request, self.cc.shared_domains(), self.NAME_GETTERS)

    def on_shared_domain(self, request: Request, guid: str) -> Response:
        return self._resource(request, self.cc.domain(guid))

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
            app = self.cc.create_app(self._body(request), self._claims(request))
            return self._resource(request, app, 201)
        return self._collection(request, self.cc.store.all("apps"), self._app_getters())

    def on_app(self, request: Request, guid: str) -> Response:
        if request.method == "PUT":
            app = self.cc.update_app(guid, self._body(request), self._claims(request))
            return self._resource(request, app, 201)
        if request.method == "DELETE":
            self.cc.delete_app(guid, self._claims(request), request.args.get("recursive") == "true")
            return self._deleted(request)
        return self._resource(request, self.cc.app(guid))

    def on_bits(self, request: Request, guid: str) -> Response:
        self.cc.app(guid)
        resources = request.form.get("resources")
        upload = request.files.get("application")
        job = self.cc.upload_bits(guid, resources, upload.read() if upload is not None else None)
        if request.args.get("async") == "true":
            return _json(self.present.job(job), 201)
        if job.error_details:
            raise CCError("AppBitsUploadInvalid", job.error_details.get("description", ""))
        return _json({}, 201)

    def on_restage(self, request: Request, guid: str) -> Response:
        return self._resource(request, self.cc.restage(guid, self._claims(request)), 201)

    def on_instances(self, request: Request, guid: str) -> Response:
        return _json(self.cc.instances(guid))

    def on_instance(self, request: Request, guid: str, index: str) -> Response:
        try:
            number = int(index)
        except ValueError:
            raise CCError("InstancesError", f"Expected an instance index but got {index[:20]!r}")
        self.cc.restart_instance(guid, number)
        return Response(status=204)

    def on_stats(self, request: Request, guid: str) -> Response:
        return _json(self.cc.stats(guid))

    def on_app_summary(self, request: Request, guid: str) -> Response:
        return _json(self.present.app_summary(self.cc.app(guid)))

    def on_app_events(self, request: Request, guid: str) -> Response:
        self.cc.app(guid)
        return self._collection(request, self.cc.store.find("events", actee=guid), self.EVENT_GETTERS)

    def on_app_routes(self, request: Request, guid: str) -> Response:
        self.cc.app(guid)
        return self._collection(request, self.cc.routes_of_app(guid), self._route_getters())

    def on_app_route(self, request: Request, guid: str, route: str) -> Response:
        if request.method == "PUT":
            return self._resource(request, self.cc.map_route(guid, route), 201)
        return self._resource(request, self.cc.unmap_route(guid, route), 201)

    # ------------------------------------------------------------------ routes

    def on_routes(self, request: Request) -> Response:
        if request.method == "POST":
            return self._resource(request, self.cc.create_route(self._body(request)), 201)
        return self._collection(request, self.cc.store.all("routes"), self._route_getters())

    def on_route(self, request: Request, guid: str) -> Response:
        if request.method == "DELETE":
            self.cc.delete_route(guid)
            return self._deleted(request)
        return self._resource(request, self.cc.route(guid))

    def on_route_apps(self, request: Request, guid: str) -> Response:
        route = self.cc.route(guid)
        apps = [a for a in (self.cc.store.get("apps", g) for g in route.app_guids) if a]
        return self._collection(request, apps, self._app_getters())

    def on_route_app(self, request: Request, guid: str, app: str) -> Response:
        self.cc.route(guid)
        if request.method == "PUT":
            self.cc.map_route(app, guid)
        else:
            self.cc.unmap_route(app, guid)
        return self._resource(request, self.cc.route(guid), 201)

    def on_route_reserved(self, request: Request, domain: str, host: str) -> Response:
        if self.cc.route_reserved(domain, host, request.args.get("path", "")):
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
            process_guid = self.cc.ssh_access(self._claims(request), guid, index)
        except PermissionError as exc:
            raise CCError("InvalidRequest", description=str(exc))
        return _json({"process_guid": process_guid})


def _collection_of(record: Any) -> str:
    return {"Organization": "organizations", "Space": "spaces", "App": "apps", "Route": "routes",
            "Domain": "shared_domains", "Stack": "stacks", "Event": "events", "Job": "jobs"}[type(record).__name__]
