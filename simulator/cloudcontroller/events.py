"""What CC tells about apps: audit events (`/v2/events`, `/v2/apps/:guid/events`) and its
own log lines in the app's logs (source `API`)."""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller.models import Event, Store
from simulator.cloudcontroller.settings import CcSettings


class AppEvents:
    def __init__(self, world: Any, store: Store, settings: CcSettings) -> None:
        self.world = world
        self.store = store
        self.settings = settings

    def record_event(self, app_guid: str, type: str, metadata: dict[str, Any] | None = None,
                     actor: dict[str, Any] | None = None) -> Event | None:
        app = self.store.get("apps", app_guid)
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
        self.emit_log(app_guid, "API", str(self.settings.instance_index()), message, stream)
