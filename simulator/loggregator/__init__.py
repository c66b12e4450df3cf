"""Loggregator of cf v220/v231 (doppler recent logs and websocket streams, legacy /recent and
/tail/; no log-cache): `attach(world)` registers `world.components["logs"]`."""

from __future__ import annotations

from typing import Any

from simulator.loggregator.http import LogsApp
from simulator.loggregator.service import LogService
from simulator.loggregator.stream import StreamServer


def attach(world: Any) -> None:
    logs = LogService(world)
    logs.serve(LogsApp(logs), StreamServer(logs))
    world.components["logs"] = logs
