"""Diego of the simulated BOSH-Lite: BBS, auctioneer, converger, route emitter, reps, stager."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.diego.models import (
    CLAIMED,
    CRASHED,
    RUNNING,
    UNCLAIMED,
    ActualLRP,
    Cell,
    DesiredLRP,
    DiegoUnavailable,
    Droplet,
    InstanceContainer,
    StagingError,
)
from simulator.diego.runtime import Diego

if TYPE_CHECKING:
    from simulator.world import World

__all__ = ["CLAIMED", "CRASHED", "RUNNING", "UNCLAIMED", "ActualLRP", "Cell", "DesiredLRP", "Diego",
           "DiegoUnavailable", "Droplet", "InstanceContainer", "StagingError", "attach"]


def attach(world: World) -> None:
    diego = Diego(world)
    diego.start()
    world.components["diego"] = diego
