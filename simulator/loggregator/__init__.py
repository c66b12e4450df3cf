"""Loggregator of cf v220/v231 (doppler recent logs and websocket streams, legacy /recent and
/tail/; no log-cache): `attach(world)` registers `world.components["logs"]`."""

from __future__ import annotations

from typing import Any

from simulator.loggregator.service import LogService


def attach(world: Any) -> None:
    world.components["logs"] = LogService(world)
