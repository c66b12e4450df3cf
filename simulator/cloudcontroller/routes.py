"""CC's routes and the shared domains they live on: create, reserve check, map to apps,
unmap, delete. The apps domains are the deployed manifest's (`app_domains`), with guids that
stay the same across runs."""

from __future__ import annotations

import re
import uuid
from typing import Any

from simulator.cloudcontroller import lookup
from simulator.cloudcontroller.ccbridge import CCBridge
from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App, Domain, Route, Store
from simulator.cloudcontroller.settings import CcSettings

DOMAIN_NAMESPACE = uuid.UUID("0d5a4a33-5c1d-4c0e-8a57-6a5f1f1c8e21")
HOST_RE = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$", re.IGNORECASE)


class Routes:
    def __init__(self, store: Store, settings: CcSettings, bridge: CCBridge) -> None:
        self.store = store
        self.settings = settings
        self.bridge = bridge

    def shared_domains(self) -> list[Domain]:
        """The apps domains of the deployed manifest, with guids stable across runs."""
        with self.store.lock:
            for name in self.settings.app_domain_names():
                guid = str(uuid.uuid5(DOMAIN_NAMESPACE, name))
                if self.store.get("shared_domains", guid) is None:
                    self.store.add("shared_domains", Domain(guid=guid, name=name))
            return self.store.all("shared_domains")

    def domain(self, guid: str) -> Domain:
        self.shared_domains()
        domain = self.store.get("shared_domains", guid)
        if domain is None:
            raise CCError("DomainNotFound", guid)
        return domain

    def route(self, guid: str) -> Route:
        return lookup.route(self.store, guid)

    def routes_of_app(self, app_guid: str) -> list[Route]:
        return lookup.routes_of_app(self.store, app_guid)

    def route_url(self, route: Route) -> str:
        domain = self.store.get("shared_domains", route.domain_guid)
        name = domain.name if domain else ""
        return (f"{route.host}.{name}" if route.host else name) + route.path

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
            app, route = lookup.app(self.store, app_guid), self.route(route_guid)
            if route.space_guid != app.space_guid:
                raise CCError("InvalidRelation", "The app and route must belong to the same space")
            if app_guid not in route.app_guids:
                route.app_guids.append(app_guid)
        self.bridge.sync()
        return app

    def unmap_route(self, app_guid: str, route_guid: str) -> App:
        with self.store.lock:
            app, route = lookup.app(self.store, app_guid), self.route(route_guid)
            if app_guid in route.app_guids:
                route.app_guids.remove(app_guid)
        self.bridge.sync()
        return app

    def delete_route(self, guid: str) -> None:
        with self.store.lock:
            self.route(guid)
            self.store.remove("routes", guid)
        self.bridge.sync()
