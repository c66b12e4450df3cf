"""Who may do what, as CC decides it for the other components: the UAA's verdict on a token,
and the ssh proxy's question "may this user reach instance N of this app?" (§4.8)."""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller.events import AppEvents
from simulator.cloudcontroller.models import Store
from simulator.cloudcontroller.settings import CcSettings


class Access:
    def __init__(self, world: Any, store: Store, settings: CcSettings, events: AppEvents) -> None:
        self.world = world
        self.store = store
        self.settings = settings
        self.events = events

    def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims, when the running UAA vouches for it."""
        uaa = self.world.components.get("uaa")
        return uaa.verify(token) if uaa is not None else None

    def ssh_access(self, access_token: str | dict[str, Any], app_guid: str, index: int) -> str:
        """Process guid the ssh-proxy may connect the user to, or PermissionError (§4.8)."""
        claims = access_token if isinstance(access_token, dict) else self.verify(access_token)
        if claims is None:
            raise PermissionError("invalid token")
        app = self.store.get("apps", app_guid)
        if app is None:
            raise PermissionError(f"app {app_guid} not found")
        space = self.store.get("spaces", app.space_guid)
        if not (app.diego and app.enable_ssh and self.settings.allow_app_ssh_access() and space and space.allow_ssh):
            raise PermissionError("ssh is not allowed for this app")
        if not 0 <= int(index) < max(app.instances, 1):
            raise PermissionError(f"instance index {index} out of range")
        self.events.record_event(app_guid, "audit.app.ssh-authorized", {"index": int(index)}, claims)
        return app.process_guid
