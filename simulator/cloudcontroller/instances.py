"""What CC says of an app's running instances, asked from Diego's BBS: `/v2/apps/:guid/instances`,
`/stats` (and v3 process stats over them), running counts for summaries, and restarting one
instance (nsync's StopIndex)."""

from __future__ import annotations

import time
from typing import Any

from simulator.cloudcontroller import lookup
from simulator.cloudcontroller.ccbridge import CCBridge, field_of
from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App, Store, now_iso
from simulator.cloudcontroller.routes import Routes

DIEGO_TO_CC_STATE = {"UNCLAIMED": "STARTING", "CLAIMED": "STARTING", "STARTING": "STARTING",
                     "RUNNING": "RUNNING", "CRASHED": "CRASHED", "FLAPPING": "FLAPPING",
                     "DOWN": "DOWN", "UNKNOWN": "UNKNOWN"}


def _epoch_seconds(value: Any) -> float:
    """`since` in seconds whatever unit Diego used (seconds, ms or ns since the epoch)."""
    try:
        v = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    while v > 1e11:
        v /= 1000.0
    return v


class Instances:
    def __init__(self, world: Any, store: Store, routes: Routes, bridge: CCBridge) -> None:
        self.world = world
        self.store = store
        self.routes = routes
        self.bridge = bridge

    def app(self, guid: str) -> App:
        return lookup.app(self.store, guid)

    def _diego_instances(self, app: App) -> list[Any]:
        if not self.world.component_up("bbs"):
            raise CCError("InstancesUnavailable", "Diego BBS is not available")
        diego = self.world.components.get("diego")
        if diego is None:
            raise CCError("InstancesUnavailable", "Diego is not available")
        try:
            return list(diego.instances(app.process_guid))
        except Exception as exc:
            raise CCError("InstancesUnavailable", str(exc) or type(exc).__name__)

    def _check_running(self, app: App) -> None:
        if app.package_state == "FAILED":
            reason = app.staging_failed_reason or "StagingError"
            raise CCError(reason, app.staging_failed_description or "")
        if app.state != "STARTED":
            raise CCError("InstancesError",
                          f"Request failed for app: {app.name} as the app is in stopped state.")
        if app.package_state != "STAGED":
            raise CCError("NotStaged")

    def _by_index(self, app: App) -> dict[int, Any]:
        best: dict[int, Any] = {}
        rank = {"RUNNING": 0, "STARTING": 1, "CRASHED": 2}
        for lrp in self._diego_instances(app):
            index = int(field_of(lrp, "index", 0))
            if not 0 <= index < app.instances:
                continue
            state = DIEGO_TO_CC_STATE.get(str(field_of(lrp, "state", "UNKNOWN")).upper(), "UNKNOWN")
            current = best.get(index)
            if current is None or rank.get(state, 9) < rank.get(current[0], 9):
                best[index] = (state, lrp)
        return best

    def instances(self, guid: str) -> dict[str, dict[str, Any]]:
        app = self.app(guid)
        self._check_running(app)
        best = self._by_index(app)
        now = time.time()
        result: dict[str, dict[str, Any]] = {}
        for index in range(app.instances):
            if index not in best:
                result[str(index)] = {"state": "DOWN", "uptime": 0}
                continue
            state, lrp = best[index]
            since = _epoch_seconds(field_of(lrp, "since", 0))
            entry: dict[str, Any] = {"state": state, "uptime": int(max(0.0, now - since)) if
                                     state == "RUNNING" and since else 0, "since": int(since)}
            details = field_of(lrp, "details", None) or field_of(lrp, "placement_error", None)
            if details:
                entry["details"] = details
            result[str(index)] = entry
        return result

    def stats(self, guid: str) -> dict[str, dict[str, Any]]:
        app = self.app(guid)
        if app.state != "STARTED":
            raise CCError("AppStoppedStatsError", app.name)
        self._check_running(app)
        best = self._by_index(app)
        uris = [self.routes.route_url(r) for r in self.routes.routes_of_app(guid)]
        now = time.time()
        result: dict[str, dict[str, Any]] = {}
        for index in range(app.instances):
            if index not in best:
                result[str(index)] = {"state": "DOWN", "since": now}
                continue
            state, lrp = best[index]
            since = _epoch_seconds(field_of(lrp, "since", 0))
            result[str(index)] = {"state": state, "stats": {
                "name": app.name, "uris": uris, "host": field_of(lrp, "cell_ip", None),
                "port": field_of(lrp, "port", None),
                "uptime": int(max(0.0, now - since)) if since and state == "RUNNING" else 0,
                "mem_quota": app.memory * 1024 * 1024, "disk_quota": app.disk_quota * 1024 * 1024,
                "fds_quota": 16384, "usage": {"time": now_iso().replace("T", " ").replace("Z", " +0000"),
                                              "cpu": 0.0, "mem": 0, "disk": 0}}}
        return result

    def restart_instance(self, guid: str, index: int) -> None:
        """`DELETE /v2/apps/:guid/instances/:index`: Diego stops that instance and starts a
        new one in its place (cc@v220 `instances_controller#kill_instance`)."""
        with self.store.lock:
            app = self.app(guid)
            if not 0 <= index < app.instances:
                raise CCError("InstancesError",
                              f"Expected instance index between 0 and {app.instances - 1} but got {index}")
            process_guid = app.process_guid
            running = app.state == "STARTED" and app.package_state == "STAGED"
        if not running:
            return
        try:
            self.bridge.stop_index(process_guid, index)
        except Exception as exc:
            raise CCError("RunnerUnavailable", str(exc) or type(exc).__name__)

    def running_instances(self, app: App) -> int:
        try:
            self._check_running(app)
            return sum(1 for state, _ in self._by_index(app).values() if state == "RUNNING")
        except CCError:
            return 0
