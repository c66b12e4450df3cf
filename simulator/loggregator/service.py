"""Loggregator model: per-app rings of recent log lines, filled while doppler runs.

Lines emitted while no `doppler` instance runs are lost, as on a real platform; the
`break_logs` fault makes reads of an app (by name or guid, or all) come back empty.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from simulator.loggregator.encoding import LogLine

RING_SIZE = 1000


class LogService:
    """The `logs` component (architecture §3): `wsgi`, `emit`, `recent`."""

    def __init__(self, world: Any, ring_size: int = RING_SIZE) -> None:
        self.world = world
        self.ring_size = ring_size
        self._rings: dict[str, deque[LogLine]] = {}
        self._lock = threading.Lock()
        self._last_ns = 0
        self.dropped = 0
        from simulator.loggregator.http import LogsApp

        self.wsgi = LogsApp(self)

    def emit(self, app_guid: str, source_type: str, source_instance: Any, message: str,
             stream: str = "OUT") -> bool:
        """Record one line (without its trailing newline); False when doppler was down."""
        if not self.world.component_up("doppler"):
            with self._lock:
                self.dropped += 1
            return False
        text = str(message).rstrip("\r\n")
        with self._lock:
            ts = max(time.time_ns(), self._last_ns + 1)  # strictly increasing: stable order
            self._last_ns = ts
            ring = self._rings.get(app_guid)
            if ring is None:
                ring = self._rings[app_guid] = deque(maxlen=self.ring_size)
            ring.append(LogLine(ts, app_guid, str(source_type), str(source_instance), text,
                                "ERR" if str(stream).upper() == "ERR" else "OUT"))
        return True

    def broken(self, app_guid: str) -> bool:
        faults = self.world.faults
        if faults.active("break_logs", app_guid):
            return True
        app = self.app(app_guid)
        return bool(app is not None and faults.active("break_logs", getattr(app, "name", None)))

    def app(self, app_guid: str) -> Any | None:
        cc = self.world.components.get("cc")
        return cc.app_by_guid(app_guid) if cc is not None else None

    def known_app(self, app_guid: str) -> bool:
        """Unknown apps are 404; without a CC to ask, anything with lines is known."""
        cc = self.world.components.get("cc")
        if cc is None:
            with self._lock:
                return app_guid in self._rings
        return cc.app_by_guid(app_guid) is not None

    def recent(self, app_guid: str) -> list[LogLine]:
        if self.broken(app_guid):
            return []
        with self._lock:
            return list(self._rings.get(app_guid, ()))

    def forget(self, app_guid: str) -> None:
        with self._lock:
            self._rings.pop(app_guid, None)

    def verify(self, token: str) -> dict[str, Any] | None:
        uaa = self.world.components.get("uaa")
        return uaa.verify(token) if uaa is not None else None

    def close(self) -> None:
        with self._lock:
            self._rings.clear()
