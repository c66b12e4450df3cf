"""The Cloud Controller: its parts, assembled over one store (the HTTP layer is `cc_http.py`,
built over this by `attach(world)`).

Each part has one job and gets the others it needs when it is built:
`settings.py` (what is deployed: properties, era, `/v2/info`), `events.py` (audit events and
CC's own log lines), `spaces.py` (organizations and spaces), `routes.py` (routes and shared
domains), `apps.py` (apps, bits, staging results, the desired state), `instances.py` (what
Diego runs of them), `access.py` (tokens, ssh access) and `ccbridge.py` (staging and desired
LRPs towards Diego: stager and nsync).

This is the `cc` component of architecture §3: `wsgi`, `ssh_access`, `app_by_guid`,
`record_event` for the other parts; the parts themselves for the HTTP layer and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.cloudcontroller.access import Access
from simulator.cloudcontroller.apps import Apps
from simulator.cloudcontroller.ccbridge import CCBridge
from simulator.cloudcontroller.events import AppEvents
from simulator.cloudcontroller.instances import Instances
from simulator.cloudcontroller.models import App, Event, Stack, Store
from simulator.cloudcontroller.routes import Routes
from simulator.cloudcontroller.settings import CcSettings
from simulator.cloudcontroller.spaces import Spaces


class CloudController:
    def __init__(self, world: Any) -> None:
        self.world = world
        self.store = Store()
        self.stack = self.store.add("stacks", Stack())
        self.settings = CcSettings(world)
        self.events = AppEvents(world, self.store, self.settings)
        # the bridge asks the apps for the desired state and tells them staging results
        self.bridge = CCBridge(world, desired=lambda: self.apps.desired_lrps(), log=self.events.emit_log,
                               staged=lambda *result: self.apps.staging_finished(*result))
        self.routes = Routes(self.store, self.settings, self.bridge)
        self.spaces = Spaces(self.store, self.bridge)
        self.apps = Apps(self.store, self.settings, self.events, self.routes, self.bridge, self.stack)
        self.instances = Instances(world, self.store, self.routes, self.bridge)
        self.access = Access(world, self.store, self.settings, self.events)
        self.wsgi: Callable[..., Any] | None = None  # cc_http.CloudControllerApp, set by attach()

    # ------------------------------------------------------------------ for the other parts

    def app_by_guid(self, guid: str) -> App | None:
        return self.apps.app_by_guid(guid)

    def record_event(self, app_guid: str, type: str, metadata: dict[str, Any] | None = None,
                     actor: dict[str, Any] | None = None) -> Event | None:
        return self.events.record_event(app_guid, type, metadata, actor)

    def ssh_access(self, access_token: str | dict[str, Any], app_guid: str, index: int) -> str:
        """Process guid the ssh-proxy may connect the user to, or PermissionError (§4.8)."""
        return self.access.ssh_access(access_token, app_guid, index)

    def close(self) -> None:
        self.bridge.close()
