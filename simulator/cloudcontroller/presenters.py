"""Rendering CC records as v2 resources (`metadata` + `entity`), with inline relations.

`inline-relations-depth=N` inlines related objects under the relation name (to-one: the
resource; to-many: a list), one level per unit of depth, as the legacy CLI expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator.cloudcontroller.models import App, Domain, Event, Job, Organization, Route, Space, Stack

if TYPE_CHECKING:
    from simulator.cloudcontroller.cc import CloudController

Resource = dict[str, Any]


def _meta(record: Any, url: str) -> dict[str, Any]:
    return {"guid": record.guid, "url": url, "created_at": record.created_at,
            "updated_at": record.updated_at}


class Presenter:
    def __init__(self, cc: CloudController) -> None:
        self.cc = cc
        self._renderers: dict[type, Callable[[Any, int], Resource]] = {
            Organization: self.organization, Space: self.space, Domain: self.shared_domain,
            Stack: self.stack, App: self.app, Route: self.route, Event: self.event, Job: self.job}

    def render(self, record: Any, depth: int = 0) -> Resource:
        return self._renderers[type(record)](record, depth)

    def _inline(self, entity: dict[str, Any], depth: int, relations: dict[str, Any]) -> None:
        """relations: name -> record (to-one), list of records (to-many) or None."""
        if depth <= 0:
            return
        for name, value in relations.items():
            if isinstance(value, list):
                if len(value) <= 50:
                    entity[name] = [self.render(v, depth - 1) for v in value]
            elif value is not None:
                entity[name] = self.render(value, depth - 1)

    def organization(self, org: Organization, depth: int = 0) -> Resource:
        g = org.guid
        entity = {"name": org.name, "billing_enabled": org.billing_enabled,
                  "quota_definition_guid": org.quota_definition_guid, "status": org.status,
                  "quota_definition_url": None, "spaces_url": f"/v2/organizations/{g}/spaces",
                  "domains_url": f"/v2/organizations/{g}/domains",
                  "private_domains_url": f"/v2/organizations/{g}/private_domains",
                  "users_url": f"/v2/organizations/{g}/users",
                  "managers_url": f"/v2/organizations/{g}/managers",
                  "billing_managers_url": f"/v2/organizations/{g}/billing_managers",
                  "auditors_url": f"/v2/organizations/{g}/auditors",
                  "app_events_url": f"/v2/organizations/{g}/app_events",
                  "space_quota_definitions_url": f"/v2/organizations/{g}/space_quota_definitions"}
        self._inline(entity, depth, {"spaces": self.cc.store.find("spaces", organization_guid=g)})
        return {"metadata": _meta(org, f"/v2/organizations/{g}"), "entity": entity}

    def space(self, space: Space, depth: int = 0) -> Resource:
        g = space.guid
        entity = {"name": space.name, "organization_guid": space.organization_guid,
                  "space_quota_definition_guid": None, "allow_ssh": space.allow_ssh,
                  "organization_url": f"/v2/organizations/{space.organization_guid}",
                  "developers_url": f"/v2/spaces/{g}/developers", "managers_url": f"/v2/spaces/{g}/managers",
                  "auditors_url": f"/v2/spaces/{g}/auditors", "apps_url": f"/v2/spaces/{g}/apps",
                  "routes_url": f"/v2/spaces/{g}/routes", "domains_url": f"/v2/spaces/{g}/domains",
                  "service_instances_url": f"/v2/spaces/{g}/service_instances",
                  "app_events_url": f"/v2/spaces/{g}/app_events", "events_url": f"/v2/spaces/{g}/events",
                  "security_groups_url": f"/v2/spaces/{g}/security_groups"}
        self._inline(entity, depth, {
            "organization": self.cc.store.get("organizations", space.organization_guid),
            "apps": self.cc.store.find("apps", space_guid=g),
            "routes": self.cc.store.find("routes", space_guid=g),
            "domains": self.cc.routes.shared_domains(),
            "developers": [], "managers": [], "auditors": [], "service_instances": [],
            "security_groups": []})
        return {"metadata": _meta(space, f"/v2/spaces/{g}"), "entity": entity}

    def shared_domain(self, domain: Domain, depth: int = 0) -> Resource:
        return {"metadata": _meta(domain, f"/v2/shared_domains/{domain.guid}"),
                "entity": {"name": domain.name, "router_group_guid": None}}

    def stack(self, stack: Stack, depth: int = 0) -> Resource:
        return {"metadata": _meta(stack, f"/v2/stacks/{stack.guid}"),
                "entity": {"name": stack.name, "description": stack.description}}

    def app_entity(self, app: App) -> dict[str, Any]:
        """The export list of the deployed CC's App model, then its relation URLs
        (app/models/runtime/app.rb:44-49 @64d935a; `ports` added at b7cf099)."""
        g = app.guid
        entity = {"name": app.name, "production": app.production, "space_guid": app.space_guid,
                "stack_guid": app.stack_guid, "buildpack": app.buildpack,
                "detected_buildpack": app.detected_buildpack, "environment_json": app.environment_json,
                "memory": app.memory, "instances": app.instances, "disk_quota": app.disk_quota,
                "state": app.state, "version": app.version, "command": app.command, "console": False,
                "debug": None, "staging_task_id": app.staging_task_id,
                "package_state": app.package_state, "health_check_type": app.health_check_type,
                "health_check_timeout": app.health_check_timeout,
                "staging_failed_reason": app.staging_failed_reason,
                "staging_failed_description": app.staging_failed_description,
                "diego": app.diego, "docker_image": app.docker_image,
                "package_updated_at": app.package_updated_at,
                "detected_start_command": app.detected_start_command, "enable_ssh": app.enable_ssh,
                "docker_credentials_json": {"redacted_message": "[PRIVATE DATA HIDDEN]"},
                "space_url": f"/v2/spaces/{app.space_guid}", "stack_url": f"/v2/stacks/{app.stack_guid}",
                "events_url": f"/v2/apps/{g}/events", "service_bindings_url": f"/v2/apps/{g}/service_bindings",
                "routes_url": f"/v2/apps/{g}/routes"}
        if self.cc.settings.era().app_ports:
            entity = {**{k: v for k, v in entity.items() if not k.endswith("_url")},
                      "ports": self.cc.apps.app_ports(app),
                      **{k: v for k, v in entity.items() if k.endswith("_url")}}
        return entity

    def app(self, app: App, depth: int = 0) -> Resource:
        entity = self.app_entity(app)
        self._inline(entity, depth, {"space": self.cc.store.get("spaces", app.space_guid),
                                     "stack": self.cc.store.get("stacks", app.stack_guid),
                                     "routes": self.cc.routes.routes_of_app(app.guid), "service_bindings": []})
        return {"metadata": _meta(app, f"/v2/apps/{app.guid}"), "entity": entity}

    def route(self, route: Route, depth: int = 0) -> Resource:
        g = route.guid
        entity = {"host": route.host, "path": route.path, "domain_guid": route.domain_guid,
                  "space_guid": route.space_guid, "service_instance_guid": None, "port": None,
                  "domain_url": f"/v2/shared_domains/{route.domain_guid}",
                  "space_url": f"/v2/spaces/{route.space_guid}", "apps_url": f"/v2/routes/{g}/apps"}
        self._inline(entity, depth, {
            "domain": self.cc.store.get("shared_domains", route.domain_guid),
            "space": self.cc.store.get("spaces", route.space_guid),
            "apps": [a for a in (self.cc.store.get("apps", x) for x in route.app_guids) if a]})
        return {"metadata": _meta(route, f"/v2/routes/{g}"), "entity": entity}

    def event(self, event: Event, depth: int = 0) -> Resource:
        entity = {k: getattr(event, k) for k in ("type", "actor", "actor_type", "actor_name", "actee",
                                                 "actee_type", "actee_name", "timestamp", "metadata",
                                                 "space_guid", "organization_guid")}
        return {"metadata": _meta(event, f"/v2/events/{event.guid}"), "entity": entity}

    def job(self, job: Job, depth: int = 0) -> Resource:
        entity: dict[str, Any] = {"guid": job.guid, "status": job.status}
        if job.error_details:
            entity["error"] = "Use of entity>error is deprecated in favor of entity>error_details."
            entity["error_details"] = job.error_details
        return {"metadata": {"guid": job.guid, "created_at": job.created_at, "url": f"/v2/jobs/{job.guid}"},
                "entity": entity}

    def app_summary(self, app: App) -> dict[str, Any]:
        body = {"guid": app.guid, **self.app_entity(app)}
        body["routes"] = [self.route_summary(r) for r in self.cc.routes.routes_of_app(app.guid)]
        body["running_instances"] = self.cc.instances.running_instances(app)
        body["services"] = []
        body["available_domains"] = [{"guid": d.guid, "name": d.name}
                                     for d in self.cc.routes.shared_domains()]
        return body

    def route_summary(self, route: Route) -> dict[str, Any]:
        domain = self.cc.store.get("shared_domains", route.domain_guid)
        return {"guid": route.guid, "host": route.host, "path": route.path, "port": None,
                "domain": {"guid": route.domain_guid, "name": domain.name if domain else ""}}

    def space_summary(self, space: Space) -> dict[str, Any]:
        apps = []
        for app in self.cc.store.find("apps", space_guid=space.guid):
            entry = {"guid": app.guid, **self.app_entity(app)}
            entry["urls"] = [self.cc.routes.route_url(r) for r in self.cc.routes.routes_of_app(app.guid)]
            entry["routes"] = [self.route_summary(r) for r in self.cc.routes.routes_of_app(app.guid)]
            entry["running_instances"] = self.cc.instances.running_instances(app)
            entry["service_count"] = 0
            entry["service_names"] = []
            apps.append(entry)
        return {"guid": space.guid, "name": space.name, "apps": apps, "services": []}
