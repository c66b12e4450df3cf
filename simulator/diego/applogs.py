"""What Diego tells about apps: their log lines (CELL, APP, API sources) through the logs
component, and crash events through CC. Either may be missing or failing; Diego carries on."""

from __future__ import annotations

from typing import Any


class AppLogs:
    def __init__(self, world: Any) -> None:
        self.world = world

    def emit(self, app_guid: str, source: str, instance: int | str, message: str, stream: str = "OUT") -> None:
        logs = self.world.components.get("logs")
        if logs is None:
            return
        try:
            logs.emit(app_guid, source, str(instance), message, stream)
        except Exception:
            pass

    def record(self, app_guid: str, kind: str, metadata: dict[str, Any]) -> None:
        cc = self.world.components.get("cc")
        if cc is None or not hasattr(cc, "record_event"):
            return
        try:
            cc.record_event(app_guid, kind, metadata)
        except Exception:
            pass
