"""CC's apps: create, update (with the lifecycle effects: start stages, a change of a started
app gives it a new version), bits upload, restage, delete, and what staging tells back; and
the desired state of the started, staged apps that nsync hands Diego (`desired_lrps`)."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from typing import Any

from simulator.cloudcontroller import lookup, ruby
from simulator.cloudcontroller.ccbridge import CCBridge, DesiredLRP, field_of, vcap_env
from simulator.cloudcontroller.errors import STAGING_FAILURES, CCError
from simulator.cloudcontroller.events import AppEvents
from simulator.cloudcontroller.models import App, Job, Stack, Store, now_iso
from simulator.cloudcontroller.routes import Routes
from simulator.cloudcontroller.settings import CcSettings

DEFAULT_HTTP_PORT = 8080  # App::DEFAULT_PORTS (cc@b7cf099 app/models/runtime/app.rb:29)
# request keys whose values CC never logs nor stores (app_event_repository.rb CENSORED_FIELDS)
CENSORED_FIELDS = ("encrypted_environment_json", "command", "environment_json", "environment_variables",
                   "docker_credentials_json", "encrypted_docker_credentials_json")
CENSORED_MESSAGE = "PRIVATE DATA HIDDEN"
APP_STATES = ("STARTED", "STOPPED")


class Apps:
    def __init__(self, store: Store, settings: CcSettings, events: AppEvents, routes: Routes,
                 bridge: CCBridge, stack: Stack) -> None:
        self.store = store
        self.settings = settings
        self.events = events
        self.routes = routes
        self.bridge = bridge
        self.stack = stack

    def app(self, guid: str) -> App:
        return lookup.app(self.store, guid)

    def app_by_guid(self, guid: str) -> App | None:
        return self.store.get("apps", guid)

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
                enable_ssh = self.settings.allow_app_ssh_access() and space.allow_ssh
            app = App(name=name, space_guid=space_guid, stack_guid=self.stack.guid,
                      memory=int(self.settings.prop("cc.default_app_memory", 1024)),
                      disk_quota=int(self.settings.prop("cc.default_app_disk_in_mb", 1024)),
                      diego=bool(self.settings.prop("cc.default_to_diego_backend", False)),
                      enable_ssh=bool(enable_ssh))
            self._assign(app, {k: v for k, v in body.items() if k not in ("name", "space_guid")})
            if app.state == "STARTED":
                raise CCError("AppPackageInvalid", "bits have not been uploaded")
            self.store.add("apps", app)
        self.events.record_event(app.guid, "audit.app.create", {"request": _redact_request(body)}, actor)
        self.events.emit_api_log(app.guid, f"Created app with guid {app.guid}")
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
            if body["enable_ssh"] and not self.settings.allow_app_ssh_access():
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
        era = self.settings.era()
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
        self.events.record_event(guid, "audit.app.update", {"request": _redact_request(body)}, actor)
        self.events.emit_api_log(guid, f"Updated app with guid {guid} ({ruby.inspect(_redact_request(body))})")
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
        self.events.record_event(guid, "audit.app.restage", {}, actor)
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
                app.detected_buildpack = field_of(droplet, "detected_buildpack", None) or app.detected_buildpack
                app.detected_start_command = field_of(droplet, "start_command", None) or \
                    field_of(droplet, "command", None) or app.detected_start_command
            app.touch()
        if droplet is None:
            # staging_completion_handler_base.rb:37 `Loggregator.emit_error`
            self.events.emit_api_log(guid, f"Failed to stage application: {description}", "ERR")
        self.bridge.sync()

    def delete_app(self, guid: str, actor: dict[str, Any], recursive: bool = False) -> None:
        with self.store.lock:
            app = self.app(guid)
            for route in self.routes.routes_of_app(guid):
                route.app_guids.remove(guid)
            self.events.record_event(guid, "audit.app.delete-request", {"request": {"recursive": recursive}}, actor)
            self.store.remove("apps", app.guid)
        self.events.emit_api_log(guid, f"Deleted app with guid {guid}")
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

    def app_ports(self, app: App) -> list[int] | None:
        """`ports` of a v231 app: as set, else [8080] for a Diego app (App#before_save
        `update_ports(DEFAULT_PORTS) if diego && ports.blank?`), else null."""
        if app.ports:
            return list(app.ports)
        return [DEFAULT_HTTP_PORT] if app.diego else None

    def desired_lrps(self) -> list[DesiredLRP]:
        with self.store.lock:
            result = []
            for app in self.store.all("apps"):
                if app.state != "STARTED" or app.package_state != "STAGED" or app.droplet is None:
                    continue
                uris = [self.routes.route_url(r) for r in self.routes.routes_of_app(app.guid) if not r.path]
                space = self.store.get("spaces", app.space_guid)
                env = vcap_env(app, uris, space.name if space else "", app.environment_json)
                result.append(DesiredLRP(app.process_guid, app.guid, app.name, app.instances,
                                         tuple(uris), app.memory, app.droplet, tuple(sorted(env.items()))))
            return result


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
