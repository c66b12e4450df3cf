"""Diego of the simulated BOSH-Lite, in Diego's own parts: the BBS (`bbs.py`, LRP state), the
auctioneer (`auctioneer.py`, placement), the converger (`converger.py`, crash recovery), the
route emitter (`route_emitter.py`), the reps of the cells (`cells.py`; one instance's
container and process: `rep.py`, `garden.py`, `netin.py`) and the stager (`staging.py`),
assembled by `runtime.Diego`, the `diego` component. Bottom up: models, bbs, route_emitter,
cells, auctioneer and converger, runtime."""

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
