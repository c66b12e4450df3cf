"""The auctioneer: places unclaimed actual LRPs on cells while the `bbs` and `auctioneer` jobs
run. A cell wins by having the fewest instances of the same LRP, then the fewest instances,
then by its id; draining cells take nothing (unless the `misplace_instances` fault says
otherwise). The winner's rep starts the instance."""

from __future__ import annotations

import time
from typing import Any

from simulator.diego.bbs import Bbs
from simulator.diego.cells import Cells
from simulator.diego.models import CLAIMED, UNCLAIMED, ActualLRP, Cell, DesiredLRP


class Auctioneer:
    def __init__(self, world: Any, bbs: Bbs, cells: Cells) -> None:
        self.world = world
        self.bbs = bbs
        self.cells = cells

    def auction(self) -> None:
        if not (self.world.component_up("bbs") and self.world.component_up("auctioneer")):
            return
        bbs = self.bbs
        with bbs.lock:
            unclaimed = [(bbs.desired[pg], a) for pg, by_index in bbs.actuals.items()
                         for a in by_index.values() if a.state == UNCLAIMED and pg in bbs.desired]
        if not unclaimed:
            return
        cells = self.cells.cells()
        placements: list[tuple[DesiredLRP, ActualLRP, Cell]] = []
        with bbs.lock:
            load: dict[str, int] = {c.id: 0 for c in cells}
            per_app: dict[tuple[str, str], int] = {}
            for a in bbs.every_actual():
                if a.cell_id in load:
                    load[a.cell_id] += 1
                    per_app[(a.process_guid, a.cell_id)] = per_app.get((a.process_guid, a.cell_id), 0) + 1
            for desired, actual in unclaimed:
                misplace = self.world.faults.active("misplace_instances", desired.app_name)
                eligible = cells if misplace else [c for c in cells if c.id not in self.cells.draining]
                if actual.state != UNCLAIMED:
                    continue
                if not eligible:
                    actual.placement_error = "found no compatible cell"
                    continue
                actual.placement_error = None
                cell = min(eligible, key=lambda c: (per_app.get((desired.process_guid, c.id), 0), load[c.id], c.id))
                load[cell.id] += 1
                per_app[(desired.process_guid, cell.id)] = per_app.get((desired.process_guid, cell.id), 0) + 1
                actual.state = CLAIMED
                actual.since = time.time()
                actual.cell_id, actual.cell_ip = cell.id, cell.ip
                actual.cell_versions = dict(cell.versions)
                actual.stopping = False
                placements.append((desired, actual, cell))
        for desired, actual, cell in placements:
            self.cells.start(desired, actual, cell)
