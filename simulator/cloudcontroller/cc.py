"""Cloud Controller model: the rules of the deployed CC over the store (HTTP lives in `cc_http.py`).

This is the `cc` component of architecture §3 (`wsgi`, `ssh_access`, `log_access`,
`app_by_guid`, `record_event`). Settings (`/v2/info`, defaults) come from the running
`cloud_controller_ng` instances' properties, and which CC it is (API 2.39.0 at cf v220,
2.51.0 at v231: `era.py`) from their release version; the last ones seen are kept so that
desired state and defaults survive a CC restart.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
import uuid
import zipfile
from typing import Any

from simulator.cloudcontroller import ruby
from simulator.cloudcontroller.ccbridge import CCBridge, DesiredLRP, vcap_env
from simulator.cloudcontroller.deployed import dig, parse_app_domains
from simulator.cloudcontroller.era import CcEra, era_of
from simulator.cloudcontroller.errors import STAGING_FAILURES, CCError
from simulator.cloudcontroller.models import (
    App,
    Domain,
    Event,
    Job,
    Organization,
    Route,
    Space,
    Stack,
    Store,
    now_iso,
)

DEFAULT_HTTP_PORT = 8080  # App::DEFAULT_PORTS (cc@b7cf099 app/models/runtime/app.rb:29)
# request keys whose values CC never logs nor stores (app_event_repository.rb CENSORED_FIELDS)
CENSORED_FIELDS = ("encrypted_environment_json", "command", "environment_json", "environment_variables",
                   "docker_credentials_json", "encrypted_docker_credentials_json")
CENSORED_MESSAGE = "PRIVATE DATA HIDDEN"
DOMAIN_NAMESPACE = uuid.UUID("0d5a4a33-5c1d-4c0e-8a57-6a5f1f1c8e21")
HOST_RE = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$", re.IGNORECASE)
APP_STATES = ("STARTED", "STOPPED")
DIEGO_TO_CC_STATE = {"UNCLAIMED": "STARTING", "CLAIMED": "STARTING", "STARTING": "STARTING",
                     "RUNNING": "RUNNING", "CRASHED": "CRASHED", "FLAPPING": "FLAPPING",
                     "DOWN": "DOWN", "UNKNOWN": "UNKNOWN"}


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _epoch_seconds(value: Any) -> float:
    """`since` in seconds whatever unit Diego used (seconds, ms or ns since the epoch)."""
    try:
        v = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    while v > 1e11:
        v /= 1000.0
    return v


class CloudController:
    def __init__(self, world: Any) -> None:
        self.world = world
        self.store = Store()
        self._last_props: dict[str, Any] = {}
        self._last_cf_version: str | None = None
        self._last_index = 0
        self.stack = self.store.add("stacks", Stack())
        self.bridge = CCBridge(self)
        from simulator.cloudcontroller.cc_http import CloudControllerApp

        self.wsgi = CloudControllerApp(self)

    # ------------------------------------------------------------------ deployed settings

    def _observe(self) -> None:
        """Remember the running CC's properties, cf release version and index."""
        running = self.world.running_with("cloud_controller_ng")
        if running:
            view = running[0]
            self._last_props = view.properties
            template = view.template("cloud_controller_ng")
            self._last_cf_version = template.release_version if template is not None else None
            self._last_index = view.index

    def properties(self) -> dict[str, Any]:
        self._observe()
        return self._last_props

    def era(self) -> CcEra:
        """Which CC is deployed: the cf release of the running `cloud_controller_ng`."""
        self._observe()
        return era_of(self._last_cf_version)

    def instance_index(self) -> int:
        """CC's `index` (its BOSH instance index): the source instance of its log lines."""
        self._observe()
        return self._last_index

    def prop(self, dotted: str, default: Any = None) -> Any:
        return dig(self.properties(), dotted, default)

    def system_domain(self) -> str:
        return str(self.prop("system_domain") or self.prop("domain") or self.world.system_domain)

    def app_domain_names(self) -> list[str]:
        return parse_app_domains(self.prop("app_domains")) or [self.world.apps_domain]

    def allow_app_ssh_access(self) -> bool:
        return bool(self.prop("cc.allow_app_ssh_access", True))  # job spec default

    def shared_domains(self) -> list[Domain]:
        """The apps domains of the deployed manifest, with guids stable across runs."""
        with self.store.lock:
            for name in self.app_domain_names():
                guid = str(uuid.uuid5(DOMAIN_NAMESPACE, name))
                if self.store.get("shared_domains", guid) is None:
                    self.store.add("shared_domains", Domain(guid=guid, name=name))
            return self.store.all("shared_domains")

    def ssh_fingerprint(self) -> str | None:
        """`app_ssh.host_key_fingerprint` as deployed; when the manifest leaves it out, the
        running ssh proxy's own key (the simulator's stand-in for the operator's
        `enable_diego_ssh_in_cf.yml` stub, which publishes the proxy key's fingerprint)."""
        configured = self.prop("app_ssh.host_key_fingerprint")
        if configured:
            return str(configured)
        proxy = self.world.components.get("ssh")
        if proxy is not None and hasattr(proxy, "host_key_fingerprint"):
            try:
                return str(proxy.host_key_fingerprint())
            except Exception:
                return None
        return None

    def endpoints(self) -> dict[str, str]:
        """The URLs CC's job template renders from the manifest (bosh-templates/
        cloud_controller_api.yml.erb @64d935a: `domain` for UAA/login/routing, `system_domain`
        for ssh and logging; ports from `logger_endpoint.port`, `doppler.port`, `app_ssh.port`
        with the job spec's defaults)."""
        domain = str(self.prop("domain") or self.system_domain())
        system = self.system_domain()

        def ws(key: str, host: str) -> str:
            scheme = "wss" if self.prop(f"{key}.use_ssl", True) else "ws"
            return f"{scheme}://{host}.{system}:{self.prop(f'{key}.port', 443)}"

        return {"api": f"https://api.{domain}", "login": f"https://login.{domain}",
                "uaa": f"https://uaa.{domain}", "routing": f"https://api.{domain}/routing",
                "logging": ws("logger_endpoint", "loggregator"), "doppler": ws("doppler", "doppler"),
                "ssh": f"ssh.{system}:{self.prop('app_ssh.port', 2222)}"}

    def info(self, user_id: str | None) -> dict[str, Any]:
        """`GET /v2/info` exactly as InfoController#read builds it (app/controllers/runtime/
        info_controller.rb @64d935a, unchanged at b7cf099): thirteen keys always, in this
        order, then the conditional ones. No log-cache, no links: that CC had neither."""
        era, ep = self.era(), self.endpoints()

        def text(prop: str, key: str) -> Any:
            value = self.prop(prop)
            return era.info_default(key) if value in (None, "") else value

        body: dict[str, Any] = {
            "name": text("name", "name"), "build": text("build", "build"),
            "support": text("support_address", "support"), "version": text("version", "version"),
            "description": text("description", "description"),
            "authorization_endpoint": ep["login"] if self.prop("login.enabled", True) else ep["uaa"],
            "token_endpoint": ep["uaa"],
            "min_cli_version": self.prop("cc.min_cli_version"),
            "min_recommended_cli_version": self.prop("cc.min_recommended_cli_version"),
            "api_version": era.api_version,
            # the template renders these under `if_p("cc.allow_app_ssh_access")`, which holds
            # whenever the property has a value (its spec default is true), even `false`
            "app_ssh_endpoint": ep["ssh"],
            "app_ssh_host_key_fingerprint": self.ssh_fingerprint(),
            "app_ssh_oauth_client": self.prop("app_ssh.oauth_client_id", "ssh-proxy"),
            "routing_endpoint": ep["routing"]}
        if self.prop("metron_endpoint.shared_secret") or self.prop("loggregator_endpoint.shared_secret"):
            body["logging_endpoint"] = ep["logging"]
        if self.prop("doppler.enabled", True):
            body["doppler_logging_endpoint"] = ep["doppler"]
        custom = self.prop("cc.info.custom")
        if custom:
            body["custom"] = custom
        if user_id:
            body["user"] = user_id
        return body

    # ------------------------------------------------------------------ lookups

    def org(self, guid: str) -> Organization:
        org = self.store.get("organizations", guid)
        if org is None:
            raise CCError("OrganizationNotFound", guid)
        return org

    def space(self, guid: str) -> Space:
        space = self.store.get("spaces", guid)
        if space is None:
            raise CCError("SpaceNotFound", guid)
        return space

    def app(self, guid: str) -> App:
        app = self.store.get("apps", guid)
        if app is None:
            raise CCError("AppNotFound", guid)
        return app

    def app_by_guid(self, guid: str) -> App | None:
        return self.store.get("apps", guid)

    def route(self, guid: str) -> Route:
        route = self.store.get("routes", guid)
        if route is None:
            raise CCError("RouteNotFound", guid)
        return route

    def domain(self, guid: str) -> Domain:
        self.shared_domains()
        domain = self.store.get("shared_domains", guid)
        if domain is None:
            raise CCError("DomainNotFound", guid)
        return domain

    def routes_of_app(self, app_guid: str) -> list[Route]:
        return [r for r in self.store.all("routes") if app_guid in r.app_guids]

    def route_url(self, route: Route) -> str:
        domain = self.store.get("shared_domains", route.domain_guid)
        name = domain.name if domain else ""
        return (f"{route.host}.{name}" if route.host else name) + route.path

    # ------------------------------------------------------------------ events and logs

    def record_event(self, app_guid: str, type: str, metadata: dict[str, Any] | None = None,
                     actor: dict[str, Any] | None = None) -> Event | None:
        app = self.app_by_guid(app_guid)
        space = self.store.get("spaces", app.space_guid) if app else None
        actor = actor or {}
        event = Event(type=type, actor=str(actor.get("user_id") or actor.get("client_id") or app_guid),
                      actor_type="user" if actor.get("user_id") else ("app" if not actor else "client"),
                      actor_name=str(actor.get("user_name") or actor.get("client_id") or
                                     (app.name if app else "")),
                      actee=app_guid, actee_type="app", actee_name=app.name if app else "",
                      metadata=dict(metadata or {}), space_guid=app.space_guid if app else "",
                      organization_guid=space.organization_guid if space else "")
        return self.store.add("events", event)

    def emit_log(self, app_guid: str, source_type: str, instance: str, message: str,
                 stream: str = "OUT") -> None:
        logs = self.world.components.get("logs")
        if logs is not None:
            logs.emit(app_guid, source_type, instance, message, stream)

    def emit_api_log(self, app_guid: str, message: str, stream: str = "OUT") -> None:
        """CC's own app log line: source `API`, source instance = CC's index (runner.rb
        `LoggregatorEmitter::Emitter.new(router, 'API', config[:index], ...)` @64d935a)."""
        self.emit_log(app_guid, "API", str(self.instance_index()), message, stream)

    # ------------------------------------------------------------------ orgs and spaces

    def create_org(self, body: dict[str, Any]) -> Organization:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CCError("InvalidRequest")
        with self.store.lock:
            if self.store.find("organizations", name=name):
                raise CCError("OrganizationNameTaken", name)
            return self.store.add("organizations", Organization(
                name=name, quota_definition_guid=body.get("quota_definition_guid")))

    def update_org(self, guid: str, body: dict[str, Any]) -> Organization:
        with self.store.lock:
            org = self.org(guid)
            name = body.get("name")
            if name and name != org.name:
                if self.store.find("organizations", name=name):
                    raise CCError("OrganizationNameTaken", name)
                org.name = name
            if body.get("status") in ("active", "suspended"):
                org.status = body["status"]
            org.touch()
            return org

    def delete_org(self, guid: str, recursive: bool) -> None:
        with self.store.lock:
            self.org(guid)
            spaces = self.store.find("spaces", organization_guid=guid)
            if spaces and not recursive:
                raise CCError("AssociationNotEmpty", "spaces", "organization")
            for space in spaces:
                self.delete_space(space.guid, recursive=True)
            self.store.remove("organizations", guid)

    def create_space(self, body: dict[str, Any]) -> Space:
        name, org_guid = body.get("name"), body.get("organization_guid")
        if not isinstance(name, str) or not name.strip() or not org_guid:
            raise CCError("InvalidRequest")
        with self.store.lock:
            if self.store.get("organizations", org_guid) is None:
                raise CCError("InvalidRelation", f"Could not find Organization with guid: {org_guid}")
            if self.store.find("spaces", name=name, organization_guid=org_guid):
                raise CCError("SpaceNameTaken", name)
            return self.store.add("spaces", Space(name=name, organization_guid=org_guid,
                                                  allow_ssh=bool(body.get("allow_ssh", True))))

    def update_space(self, guid: str, body: dict[str, Any]) -> Space:
        with self.store.lock:
            space = self.space(guid)
            name = body.get("name")
            if name and name != space.name:
                if self.store.find("spaces", name=name, organization_guid=space.organization_guid):
                    raise CCError("SpaceNameTaken", name)
                space.name = name
            if "allow_ssh" in body:
                space.allow_ssh = bool(body["allow_ssh"])
            space.touch()
            return space

    def delete_space(self, guid: str, recursive: bool) -> None:
        with self.store.lock:
            self.space(guid)
            apps = self.store.find("apps", space_guid=guid)
            routes = self.store.find("routes", space_guid=guid)
            if (apps or routes) and not recursive:
                raise CCError("AssociationNotEmpty", "apps, routes", "space")
            for app in apps:
                self.store.remove("apps", app.guid)
            for route in routes:
                self.store.remove("routes", route.guid)
            self.store.remove("spaces", guid)
        self.bridge.sync()

    # ------------------------------------------------------------------ apps

    def create_app(self, body: dict[str, Any], actor: dict[str, Any]) -> App:
        name, space_guid = body.get("name"), body.get("space_guid")
        if not isinstance(name, str) or not name.strip():
            raise CCError("AppInvalid", "name presence")
        if not space_guid:
            raise CCError("AppInvalid", "space presence")
        with self.store.lock:
            space = self.store.get("spaces", space_guid)
            if space is None:
                raise CCError("InvalidRelation", f"Could not find Space with guid: {space_guid}")
            if self.store.find("apps", name=name, space_guid=space_guid):
                raise CCError("AppNameTaken", name)
            enable_ssh = body.get("enable_ssh")
            if enable_ssh is None:
                enable_ssh = self.allow_app_ssh_access() and space.allow_ssh
            app = App(name=name, space_guid=space_guid, stack_guid=self.stack.guid,
                      memory=int(self.prop("cc.default_app_memory", 1024)),
                      disk_quota=int(self.prop("cc.default_app_disk_in_mb", 1024)),
                      diego=bool(self.prop("cc.default_to_diego_backend", False)),
                      enable_ssh=bool(enable_ssh))
            self._assign(app, {k: v for k, v in body.items() if k not in ("name", "space_guid")})
            if app.state == "STARTED":
                raise CCError("AppPackageInvalid", "bits have not been uploaded")
            self.store.add("apps", app)
        self.record_event(app.guid, "audit.app.create", {"request": _redact_request(body)}, actor)
        self.emit_api_log(app.guid, f"Created app with guid {app.guid}")
        return app

    def _assign(self, app: App, body: dict[str, Any]) -> None:
        """Validate and set updatable attributes (no lifecycle effects)."""
        if "memory" in body:
            memory = _int(body["memory"], "memory")
            if memory <= 0:
                raise CCError("AppMemoryInvalid")
            app.memory = memory
        if "instances" in body:
            instances = _int(body["instances"], "instances")
            if instances < 0:
                raise CCError("AppInvalid", "instances less than zero")
            app.instances = instances
        if "disk_quota" in body:
            app.disk_quota = _int(body["disk_quota"], "disk_quota")
        if "state" in body:
            if body["state"] not in APP_STATES:
                raise CCError("AppInvalid", "state")
            app.state = body["state"]
        if "enable_ssh" in body:
            if body["enable_ssh"] and not self.allow_app_ssh_access():
                raise CCError("InvalidRequest",
                              description="enable_ssh must be false due to global allow_ssh setting")
            app.enable_ssh = bool(body["enable_ssh"])
        if "environment_json" in body:
            env = body["environment_json"] or {}
            if not isinstance(env, dict):
                raise CCError("AppInvalid", "environment_json must be a hash")
            app.environment_json = env
        if body.get("stack_guid"):
            if self.store.get("stacks", body["stack_guid"]) is None:
                raise CCError("StackNotFound", body["stack_guid"])
            app.stack_guid = body["stack_guid"]
        era = self.era()
        if "health_check_type" in body:
            if body["health_check_type"] not in era.health_check_types:
                raise CCError("AppInvalid", "health_check_type must be one of "
                              + ", ".join(era.health_check_types))
            app.health_check_type = body["health_check_type"]
        if "ports" in body and era.app_ports:  # a v220 CC has no such attribute
            ports = body["ports"]
            if ports is not None and (not isinstance(ports, list) or not all(
                    isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports)):
                raise CCError("AppInvalid", "ports must be a list of port numbers")
            app.ports = list(ports) if ports else None
        for key in ("buildpack", "command", "docker_image"):
            if key in body:
                app.__setattr__(key, body[key] or None)
        for key in ("diego", "production"):
            if key in body and body[key] is not None:
                app.__setattr__(key, bool(body[key]))
        if "health_check_timeout" in body:
            app.health_check_timeout = body["health_check_timeout"]
        if "name" in body and body["name"] != app.name:
            if self.store.find("apps", name=body["name"], space_guid=app.space_guid):
                raise CCError("AppNameTaken", body["name"])
            app.name = body["name"]

    def update_app(self, guid: str, body: dict[str, Any], actor: dict[str, Any]) -> App:
        stage = None
        with self.store.lock:
            app = self.app(guid)
            before = (app.state, app.memory, app.health_check_type, app.enable_ssh)
            snapshot = dict(app.__dict__)
            try:
                self._assign(app, body)
                if app.state == "STARTED" and before[0] != "STARTED" and app.package is None:
                    raise CCError("AppPackageInvalid", "bits have not been uploaded")
            except CCError:
                app.__dict__.update(snapshot)
                raise
            after = (app.state, app.memory, app.health_check_type, app.enable_ssh)
            if app.state == "STARTED" and (before[0] != "STARTED" or before[1:] != after[1:]):
                app.version = str(uuid.uuid4())
            if app.state == "STARTED" and before[0] != "STARTED":
                stage = self._needs_staging(app)
            app.touch()
        self.record_event(guid, "audit.app.update", {"request": _redact_request(body)}, actor)
        self.emit_api_log(guid, f"Updated app with guid {guid} ({ruby.inspect(_redact_request(body))})")
        if stage is not None:
            self.bridge.stage(guid, *stage)
        self.bridge.sync()
        return app

    def _needs_staging(self, app: App) -> tuple[str, bytes] | None:
        """Start staging when the package has no droplet yet (store lock held)."""
        if app.droplet is not None and app.staged_package_hash == app.package_hash \
                and app.package_state == "STAGED":
            return None
        app.package_state = "PENDING"
        app.staging_failed_reason = app.staging_failed_description = None
        app.staging_task_id = uuid.uuid4().hex
        assert app.package is not None and app.package_hash is not None
        return app.package_hash, app.package

    def restage(self, guid: str, actor: dict[str, Any]) -> App:
        with self.store.lock:
            app = self.app(guid)
            if app.package is None:
                raise CCError("AppPackageInvalid", "bits have not been uploaded")
            app.droplet = None
            app.state = "STARTED"
            app.version = str(uuid.uuid4())
            stage = self._needs_staging(app)
        self.record_event(guid, "audit.app.restage", {}, actor)
        if stage is not None:
            self.bridge.stage(guid, *stage)
        self.bridge.sync()
        return app

    def staging_finished(self, guid: str, package_hash: str, droplet: Any, reason: str | None,
                         description: str | None) -> None:
        """Called by the bridge when Diego's stager answers."""
        with self.store.lock:
            app = self.app_by_guid(guid)
            if app is None or app.package_hash != package_hash:
                return  # deleted or re-uploaded meanwhile: that staging is moot
            if droplet is None:
                app.package_state = "FAILED"
                app.staging_failed_reason = reason if reason in STAGING_FAILURES else "StagingError"
                app.staging_failed_description = description
                app.state = "STOPPED"  # Diego apps go back to STOPPED (app.rb#mark_as_failed_to_stage)
            else:
                if app.droplet is not None and app.state == "STARTED":
                    app.version = str(uuid.uuid4())
                app.droplet = droplet
                app.staged_package_hash = package_hash
                app.package_state = "STAGED"
                app.detected_buildpack = _attr(droplet, "detected_buildpack", None) or app.detected_buildpack
                app.detected_start_command = _attr(droplet, "start_command", None) or \
                    _attr(droplet, "command", None) or app.detected_start_command
            app.touch()
        if droplet is None:
            # staging_completion_handler_base.rb:37 `Loggregator.emit_error`
            self.emit_api_log(guid, f"Failed to stage application: {description}", "ERR")
        self.bridge.sync()

    def delete_app(self, guid: str, actor: dict[str, Any], recursive: bool = False) -> None:
        with self.store.lock:
            app = self.app(guid)
            for route in self.routes_of_app(guid):
                route.app_guids.remove(guid)
            self.record_event(guid, "audit.app.delete-request", {"request": {"recursive": recursive}}, actor)
            self.store.remove("apps", app.guid)
        self.emit_api_log(guid, f"Deleted app with guid {guid}")
        self.bridge.sync()

    def upload_bits(self, guid: str, resources: str | None, package: bytes | None) -> Job:
        job = self.store.add("jobs", Job(status="running"))
        with self.store.lock:
            app = self.app(guid)
            if resources is None:
                self.store.remove("jobs", job.guid)
                raise CCError("AppBitsUploadInvalid", "missing :resources")
            data = package or b""
            try:
                if data:
                    with zipfile.ZipFile(io.BytesIO(data)) as zf:
                        zf.testzip()
            except zipfile.BadZipFile:
                app.package_state = "FAILED"
                job.status = "failed"
                job.error_details = CCError("AppBitsUploadInvalid", "not a zip file").to_json()
                return job
            app.package = data
            app.package_hash = hashlib.sha1(data).hexdigest()
            app.package_updated_at = now_iso()
            app.package_state = "PENDING"
            stage = self._needs_staging(app) if app.state == "STARTED" else None
            job.status = "finished"
        if stage is not None:
            self.bridge.stage(guid, *stage)
        return job

    # ------------------------------------------------------------------ desired LRPs (for the bridge)

    def desired_lrps(self) -> list[DesiredLRP]:
        with self.store.lock:
            result = []
            for app in self.store.all("apps"):
                if app.state != "STARTED" or app.package_state != "STAGED" or app.droplet is None:
                    continue
                uris = [self.route_url(r) for r in self.routes_of_app(app.guid) if not r.path]
                space = self.store.get("spaces", app.space_guid)
                env = vcap_env(app, uris, space.name if space else "", app.environment_json)
                result.append(DesiredLRP(app.process_guid, app.guid, app.name, app.instances,
                                         tuple(uris), app.memory, app.droplet, tuple(sorted(env.items()))))
            return result

    # ------------------------------------------------------------------ routes

    def create_route(self, body: dict[str, Any]) -> Route:
        host = body.get("host") or ""
        path = body.get("path") or ""
        if not isinstance(host, str) or not HOST_RE.match(host):
            raise CCError("RouteInvalid", "host is invalid")
        if path and (not isinstance(path, str) or not path.startswith("/") or path == "/"):
            raise CCError("RouteInvalid", "path is invalid")
        with self.store.lock:
            domain_guid, space_guid = body.get("domain_guid"), body.get("space_guid")
            self.shared_domains()
            if not domain_guid or self.store.get("shared_domains", domain_guid) is None:
                raise CCError("InvalidRelation", f"Could not find Domain with guid: {domain_guid}")
            if not space_guid or self.store.get("spaces", space_guid) is None:
                raise CCError("InvalidRelation", f"Could not find Space with guid: {space_guid}")
            for other in self.store.find("routes", host=host, domain_guid=domain_guid):
                if other.path == path:
                    if path:
                        raise CCError("RoutePathTaken", path)
                    raise CCError("RouteHostTaken", host)
            return self.store.add("routes", Route(host=host, path=path, domain_guid=domain_guid,
                                                  space_guid=space_guid))

    def route_reserved(self, domain_guid: str, host: str, path: str = "") -> bool:
        return bool([r for r in self.store.find("routes", host=host, domain_guid=domain_guid)
                     if r.path == path])

    def map_route(self, app_guid: str, route_guid: str) -> App:
        with self.store.lock:
            app, route = self.app(app_guid), self.route(route_guid)
            if route.space_guid != app.space_guid:
                raise CCError("InvalidRelation", "The app and route must belong to the same space")
            if app_guid not in route.app_guids:
                route.app_guids.append(app_guid)
        self.bridge.sync()
        return app

    def unmap_route(self, app_guid: str, route_guid: str) -> App:
        with self.store.lock:
            app, route = self.app(app_guid), self.route(route_guid)
            if app_guid in route.app_guids:
                route.app_guids.remove(app_guid)
        self.bridge.sync()
        return app

    def delete_route(self, guid: str) -> None:
        with self.store.lock:
            self.route(guid)
            self.store.remove("routes", guid)
        self.bridge.sync()

    # ------------------------------------------------------------------ instances

    def _diego_instances(self, app: App) -> list[Any]:
        if not self.world.component_up("bbs"):
            raise CCError("InstancesUnavailable", "Diego BBS is not available")
        diego = self.world.components.get("diego")
        if diego is None:
            raise CCError("InstancesUnavailable", "Diego is not available")
        try:
            return list(diego.instances(app.process_guid))
        except Exception as exc:
            raise CCError("InstancesUnavailable", str(exc) or type(exc).__name__)

    def _check_running(self, app: App) -> None:
        if app.package_state == "FAILED":
            reason = app.staging_failed_reason or "StagingError"
            raise CCError(reason, app.staging_failed_description or "")
        if app.state != "STARTED":
            raise CCError("InstancesError",
                          f"Request failed for app: {app.name} as the app is in stopped state.")
        if app.package_state != "STAGED":
            raise CCError("NotStaged")

    def _by_index(self, app: App) -> dict[int, Any]:
        best: dict[int, Any] = {}
        rank = {"RUNNING": 0, "STARTING": 1, "CRASHED": 2}
        for lrp in self._diego_instances(app):
            index = int(_attr(lrp, "index", 0))
            if not 0 <= index < app.instances:
                continue
            state = DIEGO_TO_CC_STATE.get(str(_attr(lrp, "state", "UNKNOWN")).upper(), "UNKNOWN")
            current = best.get(index)
            if current is None or rank.get(state, 9) < rank.get(current[0], 9):
                best[index] = (state, lrp)
        return best

    def instances(self, guid: str) -> dict[str, dict[str, Any]]:
        app = self.app(guid)
        self._check_running(app)
        best = self._by_index(app)
        now = time.time()
        result: dict[str, dict[str, Any]] = {}
        for index in range(app.instances):
            if index not in best:
                result[str(index)] = {"state": "DOWN", "uptime": 0}
                continue
            state, lrp = best[index]
            since = _epoch_seconds(_attr(lrp, "since", 0))
            entry: dict[str, Any] = {"state": state, "uptime": int(max(0.0, now - since)) if
                                     state == "RUNNING" and since else 0, "since": int(since)}
            details = _attr(lrp, "details", None) or _attr(lrp, "placement_error", None)
            if details:
                entry["details"] = details
            result[str(index)] = entry
        return result

    def stats(self, guid: str) -> dict[str, dict[str, Any]]:
        app = self.app(guid)
        if app.state != "STARTED":
            raise CCError("AppStoppedStatsError", app.name)
        self._check_running(app)
        best = self._by_index(app)
        uris = [self.route_url(r) for r in self.routes_of_app(guid)]
        now = time.time()
        result: dict[str, dict[str, Any]] = {}
        for index in range(app.instances):
            if index not in best:
                result[str(index)] = {"state": "DOWN", "since": now}
                continue
            state, lrp = best[index]
            since = _epoch_seconds(_attr(lrp, "since", 0))
            result[str(index)] = {"state": state, "stats": {
                "name": app.name, "uris": uris, "host": _attr(lrp, "cell_ip", None),
                "port": _attr(lrp, "port", None),
                "uptime": int(max(0.0, now - since)) if since and state == "RUNNING" else 0,
                "mem_quota": app.memory * 1024 * 1024, "disk_quota": app.disk_quota * 1024 * 1024,
                "fds_quota": 16384, "usage": {"time": now_iso().replace("T", " ").replace("Z", " +0000"),
                                              "cpu": 0.0, "mem": 0, "disk": 0}}}
        return result

    def restart_instance(self, guid: str, index: int) -> None:
        """`DELETE /v2/apps/:guid/instances/:index`: Diego stops that instance and starts a
        new one in its place (cc@v220 `instances_controller#kill_instance`)."""
        with self.store.lock:
            app = self.app(guid)
            if not 0 <= index < app.instances:
                raise CCError("InstancesError",
                              f"Expected instance index between 0 and {app.instances - 1} but got {index}")
            process_guid = app.process_guid
            running = app.state == "STARTED" and app.package_state == "STAGED"
        if not running:
            return
        try:
            self.bridge.stop_index(process_guid, index)
        except Exception as exc:
            raise CCError("RunnerUnavailable", str(exc) or type(exc).__name__)

    def app_ports(self, app: App) -> list[int] | None:
        """`ports` of a v231 app: as set, else [8080] for a Diego app (App#before_save
        `update_ports(DEFAULT_PORTS) if diego && ports.blank?`), else null."""
        if app.ports:
            return list(app.ports)
        return [DEFAULT_HTTP_PORT] if app.diego else None

    def running_instances(self, app: App) -> int:
        try:
            self._check_running(app)
            return sum(1 for state, _ in self._by_index(app).values() if state == "RUNNING")
        except CCError:
            return 0

    # ------------------------------------------------------------------ ssh

    def ssh_access(self, access_token: str | dict[str, Any], app_guid: str, index: int) -> str:
        """Process guid the ssh-proxy may connect the user to, or PermissionError (§4.8)."""
        claims = access_token if isinstance(access_token, dict) else self._verify(access_token)
        if claims is None:
            raise PermissionError("invalid token")
        app = self.app_by_guid(app_guid)
        if app is None:
            raise PermissionError(f"app {app_guid} not found")
        space = self.store.get("spaces", app.space_guid)
        if not (app.diego and app.enable_ssh and self.allow_app_ssh_access() and space and space.allow_ssh):
            raise PermissionError("ssh is not allowed for this app")
        if not 0 <= int(index) < max(app.instances, 1):
            raise PermissionError(f"instance index {index} out of range")
        self.record_event(app_guid, "audit.app.ssh-authorized", {"index": int(index)}, claims)
        return app.process_guid

    def _verify(self, token: str) -> dict[str, Any] | None:
        uaa = self.world.components.get("uaa")
        return uaa.verify(token) if uaa is not None else None

    def close(self) -> None:
        self.bridge.close()


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise CCError("AppInvalid", f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CCError("AppInvalid", f"{name} must be an integer")


def _redact_request(body: dict[str, Any]) -> dict[str, Any]:
    """The request as CC logs and audits it (`app_audit_hash`): censored fields keep their
    key, their value becomes `PRIVATE DATA HIDDEN`; key order is the request's."""
    return {k: (CENSORED_MESSAGE if k in CENSORED_FIELDS else v) for k, v in body.items()}
