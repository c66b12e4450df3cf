"""The converger: crash recovery. Instances whose cell went away without a drain are lost
(counted as crashes); while the `bbs` and `converger` jobs run, missing indexes get new
unclaimed actual LRPs and crashed ones are restarted (as new, unclaimed instances) after a
backoff that grows past the third crash, as Diego's restart policy does."""

from __future__ import annotations

import time
import uuid
from typing import Any

from simulator.diego.bbs import Bbs
from simulator.diego.cells import Cells
from simulator.diego.models import CLAIMED, CRASHED, RUNNING, UNCLAIMED, ActualLRP


class Converger:
    def __init__(self, world: Any, bbs: Bbs, cells: Cells) -> None:
        self.world = world
        self.bbs = bbs
        self.cells = cells

    def _backoff(self, actual: ActualLRP) -> float:
        interval = self.world.profile.converge_interval
        if actual.crash_count <= 3:
            return 0.0
        return min(interval * 2 ** (actual.crash_count - 3), interval * 16)

    def converge(self) -> None:
        bbs = self.bbs
        cell_ids = {c.id for c in self.cells.cells()}
        lost: list[ActualLRP] = []
        with bbs.lock:
            # instances whose cell has gone away (stopped/deleted/failing without a drain)
            for a in bbs.every_actual():
                if a.state in (CLAIMED, RUNNING) and a.cell_id not in cell_ids:
                    lost.append(a)
        for a in lost:
            self.cells.lose(a)
        if not (self.world.component_up("bbs") and self.world.component_up("converger")):
            return
        now = time.monotonic()
        with bbs.lock:
            for pg, desired in bbs.desired.items():
                by_index = bbs.actuals.setdefault(pg, {})
                for index in range(desired.instances):
                    if index not in by_index:
                        by_index[index] = bbs.new_actual(desired, index)
                for actual in by_index.values():
                    if actual.state == CRASHED and now - actual.crashed_at >= self._backoff(actual):
                        actual.state = UNCLAIMED
                        actual.since = time.time()
                        actual.cell_id = actual.cell_ip = None
                        actual.port = actual.address = None
                        actual.process = actual.container = None
                        actual.instance_guid = str(uuid.uuid4())
            bbs.wake.notify_all()
