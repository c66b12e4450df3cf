"""Diego's records: droplets, desired LRPs, actual LRPs, cells, and its errors.

Names follow Diego's BBS (process guid, index, instance guid, UNCLAIMED/CLAIMED/RUNNING/
CRASHED) so that the Cloud Controller side can translate them exactly as CC's Diego
instances reporter does (UNCLAIMED/CLAIMED -> STARTING).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8080  # nsync recipebuilder.DefaultPort: the container port of a CF app

UNCLAIMED = "UNCLAIMED"
CLAIMED = "CLAIMED"
RUNNING = "RUNNING"
CRASHED = "CRASHED"


class DiegoUnavailable(RuntimeError):
    """A Diego component the operation needs is not running (CC answers 503 / staging fails)."""


class StagingError(RuntimeError):
    """Staging failed; `reason` is CC's `staging_failed_reason` (e.g. NoAppDetectedError)."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


@dataclass(frozen=True)
class Droplet:
    guid: str
    app_guid: str
    path: Path  # directory holding the staged app
    command: str  # the Procfile `web:` command
    size: int = 0


@dataclass
class DesiredLRP:
    process_guid: str
    app_guid: str
    app_name: str
    instances: int
    droplet: Droplet
    env: dict[str, str]
    routes: list[str]
    memory_mb: int = 256
    ports: tuple[int, ...] = (DEFAULT_PORT,)  # container ports; garden maps each (NetIn)


@dataclass(frozen=True)
class Cell:
    """A running BOSH instance carrying the `rep` template."""

    id: str
    ip: str
    address: str  # the translated loopback address app instances bind to
    deployment: str
    versions: dict[str, str]
    properties: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class InstanceContainer:
    """A running instance as seen from inside its container: what the in-container ssh daemon
    works with (home, environment) and where `localhost:<port>` leads (the container's address
    and its ports, i.e. the LRP's container ports)."""

    home: Path
    env: dict[str, str]
    address: str
    ports: frozenset[int]


@dataclass(eq=False)  # identity matters: an index's record is replaced, never compared
class ActualLRP:
    process_guid: str
    app_guid: str
    index: int
    instance_guid: str
    state: str = UNCLAIMED
    since: float = 0.0  # epoch seconds of the last state change
    cell_id: str | None = None
    cell_ip: str | None = None
    port: int | None = None  # the external (host) port mapped to DEFAULT_PORT, as TPS reports it
    address: tuple[str, int] | None = None  # (cell's loopback address, external port): the router's endpoint
    cell_versions: dict[str, str] = field(default_factory=dict)
    crash_count: int = 0
    crash_reason: str | None = None
    evacuating: bool = False
    placement_error: str | None = None  # why the auction could not place it (CC shows it as details)
    # runtime bookkeeping, not part of the BBS record
    crashed_at: float = field(default=0.0, repr=False)  # monotonic
    process: Any = field(default=None, repr=False, compare=False)
    container: Any = field(default=None, repr=False, compare=False)  # garden.Container
    directory: Path | None = field(default=None, repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    stopping: bool = field(default=False, repr=False)

    def public(self) -> ActualLRP:
        """A detached copy for callers outside Diego (no process handle)."""
        return ActualLRP(self.process_guid, self.app_guid, self.index, self.instance_guid, self.state,
                         self.since, self.cell_id, self.cell_ip, self.port, self.address,
                         dict(self.cell_versions), self.crash_count, self.crash_reason, self.evacuating,
                         self.placement_error)
