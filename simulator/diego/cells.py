"""The reps of the running cells: what happens on a cell. Starting a placed instance (garden
container, process: `rep.py`), its health check (CLAIMED -> RUNNING, then its routes are
registered), its crash (reported as the rep did: log lines, an `app.crash` event), stopping
instances nobody wants, and the cell's drain: every instance evacuated to another cell,
replacement first, before the cell's job stops. A cell that goes away without a drain takes
its instances with it.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.diego import rep
from simulator.diego.applogs import AppLogs
from simulator.diego.bbs import Bbs
from simulator.diego.garden import Garden
from simulator.diego.models import CLAIMED, CRASHED, RUNNING, ActualLRP, Cell, DesiredLRP
from simulator.diego.route_emitter import RouteEmitter

if TYPE_CHECKING:
    from simulator.faults import Fault
    from simulator.world import InstanceView

BUSY_TICK = 0.05
STOP_TIMEOUT = 5.0


class Cells:
    def __init__(self, world: Any, bbs: Bbs, routes: RouteEmitter, logs: AppLogs, garden: Garden,
                 instances_dir: Path) -> None:
        self.world = world
        self.bbs = bbs
        self.routes = routes
        self.logs = logs
        self.garden = garden
        self.instances_dir = instances_dir
        self.draining: set[str] = set()  # cells that evacuate: the auction places nothing there

    def cells(self) -> list[Cell]:
        """The running instances carrying `rep`, with an address."""
        cells = []
        for inst in self.world.running_with("rep"):
            if not inst.ips:
                continue
            versions = {t.release: t.release_version for t in inst.templates
                        if t.release == "diego" or t.release.startswith("garden")}
            try:
                address = self.world.addresses.to_loopback(inst.ips[0])
            except ValueError:
                continue
            cells.append(Cell(inst.id, inst.ips[0], address, inst.deployment, versions, inst.properties))
        return cells

    def evacuation_timeout(self, inst: InstanceView) -> float:
        if self.world.profile.name != "fast":
            value = inst.prop("diego.rep.evacuation_timeout_in_seconds")
            if isinstance(value, int | float) and value > 0:
                return float(value)
        return self.world.profile.evacuation_timeout

    # ---------------------------------------------------------------- health

    def check_health(self) -> None:
        """Claimed instances whose port answers become RUNNING (and routable)."""
        bbs = self.bbs
        with bbs.lock:
            claimed = [(a, rep.health_check_address(a)) for by_index in bbs.actuals.values()
                       for a in by_index.values() if a.state == CLAIMED]
        for actual, health_check in claimed:
            if health_check is None:
                continue
            try:
                with socket.create_connection(health_check, timeout=0.2):
                    pass
            except OSError:
                continue
            with bbs.lock:
                if actual.state != CLAIMED or actual.stopping:
                    continue
                actual.state = RUNNING
                actual.since = time.time()
                self.logs.emit(actual.app_guid, "CELL", actual.index, "Container became healthy")
                if self.routes.up():
                    self.routes.register(actual)
                bbs.wake.notify_all()

    # ---------------------------------------------------------------- starting and crashing

    def start(self, desired: DesiredLRP, actual: ActualLRP, cell: Cell) -> None:
        """Run a placed instance on `cell` (the auctioneer's work request to its rep)."""
        guid, index, app_guid = actual.instance_guid, actual.index, actual.app_guid
        self.logs.emit(app_guid, "CELL", index, f"Creating container for app {desired.app_name}, "
                       f"container handle: {guid}")

        def on_line(stream: str, text: str) -> None:
            self.logs.emit(app_guid, "APP", index, text, stream)

        def on_exit(code: int) -> None:
            self._on_exit(actual, code)

        try:
            rep.launch(desired, actual, cell, self.garden, self.instances_dir, on_line, on_exit)
        except Exception as exc:
            with self.bbs.lock:
                actual.state = CRASHED
                actual.crash_reason = f"failed to start: {exc}"
                actual.crash_count += 1
                actual.crashed_at = time.monotonic()
                actual.since = time.time()
            return
        self.logs.emit(app_guid, "CELL", index, f"Successfully created container for instance {guid}")
        self.logs.emit(app_guid, "CELL", index, "Starting health monitoring of container")
        with self.bbs.lock:
            still_wanted = any(a is actual for a in self.bbs.every_actual())
        if not still_wanted:
            actual.stopping = True
            threading.Thread(target=rep.destroy, args=(actual, STOP_TIMEOUT), daemon=True).start()

    def _on_exit(self, actual: ActualLRP, code: int) -> None:
        bbs = self.bbs
        with bbs.lock:
            if actual.stopping or bbs.closed:
                return
            current = bbs.actuals.get(actual.process_guid, {}).get(actual.index) is actual
            evacuating = bbs.evacuating.get((actual.process_guid, actual.index)) is actual
            if not (current or evacuating):
                return
            directory, container = actual.directory, actual.container
            if self.routes.up():
                self.routes.unregister(actual)
            if evacuating:
                del bbs.evacuating[(actual.process_guid, actual.index)]
            else:
                actual.state = CRASHED
                actual.since = time.time()
                actual.crash_count += 1
                actual.crashed_at = time.monotonic()
                actual.crash_reason = f"APP/PROC/WEB: Exited with status {code}"
            bbs.wake.notify_all()
        self.logs.emit(actual.app_guid, "CELL", actual.index, f"Exit status {code}")
        self.logs.emit(actual.app_guid, "API", actual.index,
                       f"App instance exited with guid {actual.app_guid} payload: "
                       f"{{\"instance\"=>\"{actual.instance_guid}\", \"index\"=>{actual.index}, "
                       f"\"reason\"=>\"CRASHED\", \"exit_description\"=>\"{actual.crash_reason}\"}}")
        self.logs.record(actual.app_guid, "app.crash", {"instance": actual.instance_guid, "index": actual.index,
                                                        "exit_status": code, "reason": "CRASHED",
                                                        "exit_description": actual.crash_reason})
        rep.destroy_handles(None, directory, container)  # the rep deletes a crashed container

    def lose(self, actual: ActualLRP) -> None:
        """The cell under `actual` is gone: its process dies with it; it counts as crashed."""
        bbs = self.bbs
        with bbs.lock:
            key = (actual.process_guid, actual.index)
            if bbs.evacuating.get(key) is actual:
                del bbs.evacuating[key]
            elif bbs.actuals.get(actual.process_guid, {}).get(actual.index) is actual:
                actual.state = CRASHED
                actual.since = time.time()
                actual.crashed_at = time.monotonic()
                actual.crash_count += 1
                actual.crash_reason = "cell disappeared"
            else:
                return
            actual.stopping = True
            if self.routes.up():
                self.routes.unregister(actual)
            handles = (actual.process, actual.directory, actual.container)
            cell_id, guid = actual.cell_id, actual.instance_guid
        self.logs.emit(actual.app_guid, "CELL", actual.index, f"Cell {cell_id} stopped instance {guid}")
        rep.destroy_handles(*handles, timeout=1.0)

    # ---------------------------------------------------------------- stopping

    def retire(self, actuals: list[ActualLRP]) -> None:
        """Stop instances nobody wants any more (scale down, delete, after evacuation)."""
        if not actuals:
            return
        with self.bbs.lock:
            up = self.routes.up()
            for actual in actuals:
                actual.stopping = True
                if up:
                    self.routes.unregister(actual)
        for actual in actuals:
            if actual.process is not None:
                self.logs.emit(actual.app_guid, "CELL", actual.index, f"Stopping instance {actual.instance_guid}")
                self.logs.emit(actual.app_guid, "CELL", actual.index,
                               f"Destroying container for instance {actual.instance_guid}")
            threading.Thread(target=self._destroy_logged, args=(actual,), daemon=True).start()

    def _destroy_logged(self, actual: ActualLRP) -> None:
        had_process = actual.process is not None
        time.sleep(self.world.profile.unregister_grace)  # in-flight requests finish first
        rep.destroy(actual, STOP_TIMEOUT)
        if had_process:
            self.logs.emit(actual.app_guid, "CELL", actual.index,
                           f"Successfully destroyed container for instance {actual.instance_guid}")

    # ---------------------------------------------------------------- cells: bus events

    def on_started(self, inst: InstanceView) -> None:
        with self.bbs.lock:
            self.draining.discard(inst.id)
            self.bbs.wake.notify_all()

    def on_cell_gone(self, inst: InstanceView) -> None:
        if not inst.has_template("rep"):
            self.bbs.kick()
            return
        with self.bbs.lock:
            on_cell = [a for a in self.bbs.every_actual()
                       if a.cell_id == inst.id and a.state in (CLAIMED, RUNNING)]
        for actual in on_cell:
            self.lose(actual)
        self.bbs.kick()

    def on_drain(self, inst: InstanceView) -> None:
        """The rep's drain: evacuate every instance to another cell, replacement first."""
        if not inst.has_template("rep"):
            return
        bbs = self.bbs
        cell_id = inst.id
        replacements: list[tuple[ActualLRP, ActualLRP]] = []
        with bbs.lock:
            self.draining.add(cell_id)
            for pg, by_index in bbs.actuals.items():
                desired = bbs.desired.get(pg)
                for index, old in list(by_index.items()):
                    if old.cell_id != cell_id or old.state not in (CLAIMED, RUNNING) or desired is None:
                        continue
                    old.evacuating = True
                    bbs.evacuating[(pg, index)] = old
                    new = bbs.new_actual(desired, index)
                    by_index[index] = new
                    replacements.append((old, new))
                    self.logs.emit(old.app_guid, "CELL", index, f"Cell {cell_id} requesting replacement for "
                                   f"instance {old.instance_guid}")
            bbs.wake.notify_all()
        if not replacements:
            return
        deadline = time.monotonic() + self.evacuation_timeout(inst)
        pending = list(replacements)
        while pending and time.monotonic() < deadline and not bbs.closed:
            done = []
            for old, new in pending:
                with bbs.lock:
                    ready = new.state == RUNNING and self.routes.registered(new)
                    superseded = not any(a is new for a in bbs.every_actual())
                if ready or superseded:
                    done.append((old, new))
            for pair in done:
                pending.remove(pair)
                self._finish_evacuation(pair[0])
            if pending:
                time.sleep(BUSY_TICK)
        for old, _new in pending:
            self.logs.emit(old.app_guid, "CELL", old.index, f"Cell {cell_id} reached evacuation timeout for "
                           f"instance {old.instance_guid}")
            self._finish_evacuation(old)

    def _finish_evacuation(self, old: ActualLRP) -> None:
        with self.bbs.lock:
            key = (old.process_guid, old.index)
            if self.bbs.evacuating.get(key) is old:
                del self.bbs.evacuating[key]
            old.stopping = True
            unregistered = self.routes.up()
            if unregistered:
                self.routes.unregister(old)
        if unregistered:
            time.sleep(self.world.profile.unregister_grace)
        self.logs.emit(old.app_guid, "CELL", old.index, f"Stopping instance {old.instance_guid}")
        rep.destroy(old, STOP_TIMEOUT)

    # ---------------------------------------------------------------- faults

    def kill_instance(self, fault: Fault) -> None:
        """The `kill_instance` fault: the instance's process dies as an app crash would."""
        index = int(fault.params.get("index", 0))
        with self.bbs.lock:
            targets = [a for pg, d in self.bbs.desired.items() if fault.target in (d.app_name, d.app_guid)
                       for i, a in self.bbs.actuals.get(pg, {}).items() if i == index]
        if not targets:
            raise LookupError(f"no instance {index} of app {fault.target!r} to kill")
        for actual in targets:
            if actual.process is not None:
                actual.process.kill()
