"""The route emitter: registers the routes of running instances with the router (their cell
address and external port), unregisters them as instances stop or routes go, and re-emits
every `route_emit_interval` so that gorouter keeps them past its TTL. While the
`route_emitter` job is not running nothing is emitted: routes then live only as long as the
router's TTL keeps them."""

from __future__ import annotations

from typing import Any

from simulator.diego.bbs import Bbs
from simulator.diego.models import RUNNING, ActualLRP
from simulator.router.table import RouteTag


class RouteEmitter:
    def __init__(self, world: Any, bbs: Bbs) -> None:
        self.world = world
        self.bbs = bbs

    def up(self) -> bool:
        return self.world.component_up("route_emitter")

    def _router(self) -> Any:
        return self.world.components.get("router")

    def _tag(self, actual: ActualLRP) -> RouteTag:
        desired = self.bbs.desired.get(actual.process_guid)
        return RouteTag(actual.app_guid, desired.app_name if desired else "", actual.index, actual.instance_guid)

    def register(self, actual: ActualLRP) -> None:
        router = self._router()
        desired = self.bbs.desired.get(actual.process_guid)
        if router is None or desired is None or actual.address is None:
            return
        tag = self._tag(actual)
        for host in desired.routes:
            router.register(host, actual.address, tag, (actual.cell_ip, actual.port))

    def unregister(self, actual: ActualLRP, hosts: set[str] | None = None) -> None:
        router = self._router()
        desired = self.bbs.desired.get(actual.process_guid)
        if router is None or actual.address is None:
            return
        for host in hosts if hosts is not None else (desired.routes if desired else []):
            router.unregister(host, actual.address)

    def register_running(self, process_guid: str) -> None:
        if not self.up():
            return
        for actual in self.bbs.all_actuals(process_guid):
            if actual.state == RUNNING:
                self.register(actual)

    def emit(self) -> None:
        """The periodic emit: every running instance's routes, again."""
        if not self.up():
            return
        with self.bbs.lock:
            for actual in self.bbs.every_actual():
                if actual.state == RUNNING and not actual.stopping:
                    self.register(actual)

    def registered(self, actual: ActualLRP) -> bool:
        """Every route of the instance's LRP points at it (what an evacuation waits for)."""
        router = self._router()
        desired = self.bbs.desired.get(actual.process_guid)
        if router is None or desired is None or actual.address is None:
            return True
        return all(router.registered(host, actual.address) for host in desired.routes)
