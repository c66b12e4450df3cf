"""Loggregator (doppler recent logs, legacy /recent, log-cache): `attach(world)` registers
`world.components["logs"]`."""

from __future__ import annotations

from typing import Any

from simulator.loggregator.service import LogService


def attach(world: Any) -> None:
    world.components["logs"] = LogService(world)
