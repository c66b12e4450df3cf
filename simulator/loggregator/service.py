"""Loggregator model: per-app rings of recent log lines, filled while doppler runs, and the
live subscribers of the traffic controller's streams.

Lines emitted while no `doppler` instance runs are lost, as on a real platform; the
`break_logs` fault makes reads of an app (by name or guid, or all) come back empty.
Access is decided as the traffic controller decided it: by asking Cloud Controller
`GET /internal/log_access/<app guid>` with the caller's token (log_access_authorizer.go).

The model knows nothing of HTTP: `attach(world)` builds the traffic controller's app
(`http.py`) and stream listener (`stream.py`) over it and hands them to `serve`, so that the
router finds them where it finds every system host's app (`wsgi`, `upgrade_address`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from werkzeug.test import Client

from simulator.loggregator.encoding import LogLine

RING_SIZE = 1000
NO_TOKEN = "Error: Authorization not provided"
INVALID_TOKEN = "Error: Invalid authorization"


class StreamListener(Protocol):
    """The websocket listener the router tunnels stream upgrades to (`stream.StreamServer`)."""

    address: tuple[str, int]

    def close(self) -> None: ...


class LogService:
    """The `logs` component (architecture §3): `wsgi`, `upgrade_address` (the websocket
    listener the router tunnels to), `emit`, `recent`, `subscribe`."""

    def __init__(self, world: Any, ring_size: int = RING_SIZE) -> None:
        self.world = world
        self.ring_size = ring_size
        self._rings: dict[str, deque[LogLine]] = {}
        self._subscribers: dict[str, list[queue.Queue[LogLine]]] = {}
        self._lock = threading.Lock()
        self._last_ns = 0
        self.dropped = 0
        self.wsgi: Callable[..., Any] | None = None
        self._streams: StreamListener | None = None
        self.upgrade_address: tuple[str, int] | None = None

    def serve(self, wsgi: Callable[..., Any], streams: StreamListener) -> None:
        """The traffic controller's HTTP app and websocket listener over this model."""
        self.wsgi = wsgi
        self._streams = streams
        self.upgrade_address = streams.address

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
            line = LogLine(ts, app_guid, str(source_type), str(source_instance), text,
                           "ERR" if str(stream).upper() == "ERR" else "OUT")
            ring.append(line)
            listeners = list(self._subscribers.get(app_guid, ()))
        if not self.broken(app_guid):
            for listener in listeners:
                listener.put(line)
        return True

    def subscribe(self, app_guid: str) -> queue.Queue[LogLine]:
        """A queue that receives every line of the app emitted from now on."""
        listener: queue.Queue[LogLine] = queue.Queue()
        with self._lock:
            self._subscribers.setdefault(app_guid, []).append(listener)
        return listener

    def unsubscribe(self, app_guid: str, listener: queue.Queue[LogLine]) -> None:
        with self._lock:
            listeners = self._subscribers.get(app_guid, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._subscribers.pop(app_guid, None)

    def broken(self, app_guid: str) -> bool:
        faults = self.world.faults
        if faults.active("break_logs", app_guid):
            return True
        cc = self.world.components.get("cc")
        app = cc.app_by_guid(app_guid) if cc is not None else None
        return bool(app is not None and faults.active("break_logs", getattr(app, "name", None)))

    def authorize(self, token: str, app_guid: str) -> str | None:
        """None when the token may read the app's logs, else the traffic controller's reason:
        CC's `/internal/log_access/<guid>` must answer 200 (a running CC, a valid token with
        cloud_controller.read, an existing app)."""
        if not token:
            return NO_TOKEN
        cc = self.world.components.get("cc")
        if cc is None or not self.world.component_up("cloud_controller_ng"):
            return INVALID_TOKEN
        resp = Client(cc.wsgi).get(f"/internal/log_access/{app_guid}", headers={"Authorization": token})
        return None if resp.status_code == 200 else INVALID_TOKEN

    def recent(self, app_guid: str) -> list[LogLine]:
        if self.broken(app_guid):
            return []
        with self._lock:
            return list(self._rings.get(app_guid, ()))

    def forget(self, app_guid: str) -> None:
        with self._lock:
            self._rings.pop(app_guid, None)

    def close(self) -> None:
        if self._streams is not None:
            self._streams.close()
        with self._lock:
            self._rings.clear()
