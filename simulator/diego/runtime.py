"""Diego, assembled from its parts as the real one is: the BBS (`bbs.py`, LRP state), the
auctioneer (`auctioneer.py`, placement), the converger (`converger.py`, crash recovery), the
route emitter (`route_emitter.py`, route registration) and the reps of the cells (`cells.py`:
starting, health, crashes, evacuation), plus the stager (`staging.py`).

Each behaviour needs its job template running somewhere (the world answers that), which is
what makes an upgrade visible: while `auctioneer` is updated nothing new is placed, while
`route_emitter` is down routes are not refreshed (gorouter keeps them for its TTL), while
`converger` is down crashed instances stay crashed, and a cell that drains evacuates its
instances (replacement first) before its instance stops.

`Diego` is `world.components["diego"]`: the BBS API that CC's nsync and stager, TPS and the
ssh proxy call (contract: docs/architecture.md §3), and the one background thread
("diego-loop") that does the periodic work. It sleeps until the next emit or converge
deadline when nothing is pending, so an idle Diego costs no CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.diego import rep, staging
from simulator.diego.applogs import AppLogs
from simulator.diego.auctioneer import Auctioneer
from simulator.diego.bbs import Bbs
from simulator.diego.cells import BUSY_TICK, Cells
from simulator.diego.converger import Converger
from simulator.diego.garden import Garden
from simulator.diego.models import ActualLRP, DesiredLRP, DiegoUnavailable, Droplet, InstanceContainer
from simulator.diego.route_emitter import RouteEmitter

if TYPE_CHECKING:
    from simulator.world import World

IDLE_TICK = 1.0


class Diego:
    """`world.components["diego"]` (contract: docs/architecture.md §3)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.root = Path(world.state_dir) / "diego"
        self.droplets_dir = self.root / "droplets"
        self.instances_dir = self.root / "instances"
        self.instances_dir.mkdir(parents=True, exist_ok=True)
        self.droplets_dir.mkdir(parents=True, exist_ok=True)
        self.garden = Garden.reserve(avoid=world.addresses.loopback_network)
        self.bbs = Bbs()
        self.route_emitter = RouteEmitter(world, self.bbs)
        self.cells = Cells(world, self.bbs, self.route_emitter, AppLogs(world), self.garden, self.instances_dir)
        self.auctioneer = Auctioneer(world, self.bbs, self.cells)
        self.converger = Converger(world, self.bbs, self.cells)
        self._next_emit = 0.0
        self._next_converge = 0.0
        self._thread = threading.Thread(target=self._loop, name="diego-loop", daemon=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        bus = self.world.bus
        bus.subscribe("started", self.cells.on_started)
        bus.subscribe("drain", self.cells.on_drain)
        bus.subscribe("stopped", self.cells.on_cell_gone)
        bus.subscribe("deleted", self.cells.on_cell_gone)
        self.world.faults.register_action("kill_instance", self.cells.kill_instance)
        self._thread.start()

    def close(self) -> None:
        everything = self.bbs.close()
        for actual in everything:
            actual.stopping = True
        threads = [threading.Thread(target=rep.destroy, args=(a, 2.0), daemon=True) for a in everything]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10.0)
        self._thread.join(2.0)
        self.garden.close()

    def kick(self) -> None:
        self.bbs.kick()

    def _require(self, *templates: str) -> None:
        missing = [t for t in templates if not self.world.component_up(t)]
        if missing:
            raise DiegoUnavailable(f"diego component(s) not running: {', '.join(missing)}")

    # ---------------------------------------------------------------- stager

    def stage(self, app_guid: str, package_zip: bytes, log: Callable[[str], None] | None = None) -> Droplet:
        self._require("stager", "cc_uploader")
        if not self.cells.cells():
            raise DiegoUnavailable("no compatible cell is running")
        time.sleep(self.world.profile.app_stage)
        return staging.stage(app_guid, package_zip, self.droplets_dir, log)

    # ---------------------------------------------------------------- BBS: desired LRPs

    def desire(self, process_guid: str, app_guid: str, app_name: str, instances: int, droplet: Droplet,
               env: dict[str, str] | None = None, routes: list[str] | None = None,
               memory_mb: int = 256) -> None:
        self._require("bbs")
        self.bbs.desire(process_guid, app_guid, app_name, droplet, dict(env or {}), list(routes or []), memory_mb)
        self.update(process_guid, instances=instances, routes=routes)

    def update(self, process_guid: str, instances: int | None = None, routes: list[str] | None = None) -> None:
        """New routes (the ones gone are unregistered at once, the others registered) and/or a
        new instance count (the instances past it are stopped)."""
        self._require("bbs")
        removed: list[ActualLRP] = []
        bbs, emitter = self.bbs, self.route_emitter
        with bbs.lock:
            bbs.desired_lrp(process_guid)  # KeyError for an LRP the BBS does not know
            if routes is not None:
                gone = bbs.set_routes(process_guid, routes)
                if gone and emitter.up():
                    for actual in bbs.all_actuals(process_guid):
                        emitter.unregister(actual, hosts=gone)
                emitter.register_running(process_guid)
            if instances is not None:
                removed = bbs.scale(process_guid, instances)
            bbs.wake.notify_all()
        self.cells.retire(removed)

    def restart_instance(self, process_guid: str, index: int) -> None:
        """The BBS's retire-one-index (nsync's StopIndex): the actual LRP at `index` is replaced
        by a fresh, unclaimed one that the auction places, and the old container is stopped
        (route unregistered first). A restart, not a crash: no crash count, no app.crash event.
        Nothing running at `index` is nothing to do."""
        self._require("bbs")
        old = self.bbs.retire_index(process_guid, index)
        if old is not None:
            self.cells.retire([old])

    def remove(self, process_guid: str) -> None:
        self._require("bbs")
        with self.bbs.lock:
            if self.route_emitter.up():
                for actual in self.bbs.all_actuals(process_guid):
                    self.route_emitter.unregister(actual)
            removed = self.bbs.remove(process_guid)
        self.cells.retire(removed)

    # ---------------------------------------------------------------- BBS: reads

    def instances(self, process_guid: str) -> list[ActualLRP]:
        """One record per index (see `Bbs.instances`)."""
        self._require("bbs")
        return self.bbs.instances(process_guid)

    def desired_lrps(self) -> list[DesiredLRP]:
        return self.bbs.desired_lrps()

    def instance_container(self, process_guid: str, index: int) -> InstanceContainer:
        """The running instance at `index` as seen from inside its container (for ssh)."""
        self._require("bbs")
        return self.bbs.instance_container(process_guid, index)

    def instance_dir_env(self, process_guid: str, index: int) -> tuple[Path, dict[str, str]]:
        found = self.instance_container(process_guid, index)
        return found.home, found.env

    def app_name(self, app_guid: str) -> str | None:
        return self.bbs.app_name(app_guid)

    # ---------------------------------------------------------------- the loop

    def _loop(self) -> None:
        bbs = self.bbs
        while True:
            with bbs.lock:
                if bbs.closed:
                    return
                pending = bbs.placement_pending()
                now = time.monotonic()
                wait = BUSY_TICK if pending else max(0.0, min(self._next_emit, self._next_converge) - now)
                bbs.wake.wait(min(wait, IDLE_TICK))
                if bbs.closed:
                    return
            try:
                self._tick()
            except Exception:
                import traceback

                traceback.print_exc()

    def _tick(self) -> None:
        now = time.monotonic()
        self.cells.check_health()
        if now >= self._next_converge:
            self._next_converge = now + self.world.profile.converge_interval
            self.converger.converge()
        self.auctioneer.auction()
        if now >= self._next_emit:
            self._next_emit = now + self.world.profile.route_emit_interval
            self.route_emitter.emit()
