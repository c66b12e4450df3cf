"""Diego as one object: BBS records, auctioneer, converger, route emitter and the reps.

Each behaviour needs its job template running somewhere (the world answers that), which is
what makes an upgrade visible: while `auctioneer` is updated nothing new is placed, while
`route_emitter` is down routes are not refreshed (gorouter keeps them for its TTL), while
`converger` is down crashed instances stay crashed, and a cell that drains evacuates its
instances (replacement first) before its instance stops.

One background thread ("diego-loop") does the periodic work; it sleeps until the next emit or
converge deadline when nothing is pending, so an idle Diego costs no CPU.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.diego import rep, staging
from simulator.diego.garden import Garden
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
)

if TYPE_CHECKING:
    from simulator.faults import Fault
    from simulator.world import InstanceView, World

BUSY_TICK = 0.05
IDLE_TICK = 1.0
STOP_TIMEOUT = 5.0


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
        self.desired: dict[str, DesiredLRP] = {}
        self.actuals: dict[str, dict[int, ActualLRP]] = {}
        self.evacuating: dict[tuple[str, int], ActualLRP] = {}
        self.draining: set[str] = set()
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._next_emit = 0.0
        self._next_converge = 0.0
        self._thread = threading.Thread(target=self._loop, name="diego-loop", daemon=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        bus = self.world.bus
        bus.subscribe("started", self._on_started)
        bus.subscribe("drain", self._on_drain)
        bus.subscribe("stopped", self._on_cell_gone)
        bus.subscribe("deleted", self._on_cell_gone)
        self.world.faults.register_action("kill_instance", self._fault_kill_instance)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            everything = [a for by_index in self.actuals.values() for a in by_index.values()]
            everything += list(self.evacuating.values())
            self.actuals.clear()
            self.evacuating.clear()
            self.desired.clear()
            self._wake.notify_all()
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
        with self._lock:
            self._wake.notify_all()

    # ---------------------------------------------------------------- components

    def _up(self, template: str) -> bool:
        return self.world.component_up(template)

    def _require(self, *templates: str) -> None:
        missing = [t for t in templates if not self._up(t)]
        if missing:
            raise DiegoUnavailable(f"diego component(s) not running: {', '.join(missing)}")

    def cells(self) -> list[Cell]:
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

    def _evacuation_timeout(self, inst: InstanceView) -> float:
        if self.world.profile.name != "fast":
            value = inst.prop("diego.rep.evacuation_timeout_in_seconds")
            if isinstance(value, int | float) and value > 0:
                return float(value)
        return self.world.profile.evacuation_timeout

    # ---------------------------------------------------------------- logs and events

    def _emit(self, app_guid: str, source: str, instance: int | str, message: str, stream: str = "OUT") -> None:
        logs = self.world.components.get("logs")
        if logs is None:
            return
        try:
            logs.emit(app_guid, source, str(instance), message, stream)
        except Exception:
            pass

    def _record(self, app_guid: str, kind: str, metadata: dict[str, Any]) -> None:
        cc = self.world.components.get("cc")
        if cc is None or not hasattr(cc, "record_event"):
            return
        try:
            cc.record_event(app_guid, kind, metadata)
        except Exception:
            pass

    # ---------------------------------------------------------------- staging

    def stage(self, app_guid: str, package_zip: bytes, log: Callable[[str], None] | None = None) -> Droplet:
        self._require("stager", "cc_uploader")
        if not self.cells():
            raise DiegoUnavailable("no compatible cell is running")
        time.sleep(self.world.profile.app_stage)
        return staging.stage(app_guid, package_zip, self.droplets_dir, log)

    # ---------------------------------------------------------------- BBS: desired LRPs

    def desire(self, process_guid: str, app_guid: str, app_name: str, instances: int, droplet: Droplet,
               env: dict[str, str] | None = None, routes: list[str] | None = None,
               memory_mb: int = 256) -> None:
        self._require("bbs")
        with self._lock:
            if process_guid in self.desired:
                self.desired[process_guid].droplet = droplet
            else:
                self.desired[process_guid] = DesiredLRP(process_guid, app_guid, app_name, 0, droplet,
                                                        dict(env or {}), list(routes or []), memory_mb)
                self.actuals[process_guid] = {}
        self.update(process_guid, instances=instances, routes=routes)

    def update(self, process_guid: str, instances: int | None = None, routes: list[str] | None = None) -> None:
        self._require("bbs")
        removed: list[ActualLRP] = []
        with self._lock:
            desired = self.desired.get(process_guid)
            if desired is None:
                raise KeyError(f"unknown process guid {process_guid}")
            if routes is not None:
                old_routes = set(desired.routes)
                desired.routes = list(routes)
                gone = old_routes - set(routes)
                if gone and self._up("route_emitter"):
                    for actual in self._all_actuals(process_guid):
                        self._unregister(actual, hosts=gone)
                self._register_running(process_guid)
            if instances is not None:
                desired.instances = instances
                by_index = self.actuals[process_guid]
                for index in range(instances):
                    if index not in by_index:
                        by_index[index] = self._new_actual(desired, index)
                for index in [i for i in by_index if i >= instances]:
                    removed.append(by_index.pop(index))
                for key in [k for k in self.evacuating if k[0] == process_guid and k[1] >= instances]:
                    removed.append(self.evacuating.pop(key))
            self._wake.notify_all()
        self._retire(removed)

    def restart_instance(self, process_guid: str, index: int) -> None:
        """The BBS's retire-one-index (nsync's StopIndex): the actual LRP at `index` is replaced
        by a fresh, unclaimed one that the auction places, and the old container is stopped
        (route unregistered first). A restart, not a crash: no crash count, no app.crash event.
        Nothing running at `index` is nothing to do."""
        self._require("bbs")
        with self._lock:
            desired = self.desired.get(process_guid)
            by_index = self.actuals.get(process_guid)
            if desired is None or by_index is None or index not in by_index:
                return
            old = by_index[index]
            by_index[index] = self._new_actual(desired, index)
            self._wake.notify_all()
        self._retire([old])

    def remove(self, process_guid: str) -> None:
        self._require("bbs")
        with self._lock:
            if self._up("route_emitter"):
                for actual in self._all_actuals(process_guid):
                    self._unregister(actual)
            self.desired.pop(process_guid, None)
            removed = list(self.actuals.pop(process_guid, {}).values())
            for key in [k for k in self.evacuating if k[0] == process_guid]:
                removed.append(self.evacuating.pop(key))
        self._retire(removed)

    def _new_actual(self, desired: DesiredLRP, index: int) -> ActualLRP:
        return ActualLRP(desired.process_guid, desired.app_guid, index, str(uuid.uuid4()), UNCLAIMED,
                         time.time())

    def _all_actuals(self, process_guid: str) -> list[ActualLRP]:
        result = list(self.actuals.get(process_guid, {}).values())
        result += [a for k, a in self.evacuating.items() if k[0] == process_guid]
        return result

    # ---------------------------------------------------------------- BBS: reads

    def instances(self, process_guid: str) -> list[ActualLRP]:
        """One record per index: the current instance, or while it is not yet running, the
        evacuating one that still serves (as CC's reporter resolves an ActualLRPGroup)."""
        self._require("bbs")
        with self._lock:
            result = []
            for index, actual in sorted(self.actuals.get(process_guid, {}).items()):
                old = self.evacuating.get((process_guid, index))
                shown = old if (old is not None and actual.state != RUNNING and old.state == RUNNING) else actual
                result.append(shown.public())
            return result

    def desired_lrps(self) -> list[DesiredLRP]:
        with self._lock:
            return list(self.desired.values())

    def instance_container(self, process_guid: str, index: int) -> InstanceContainer:
        """The running instance at `index` as seen from inside its container (for ssh)."""
        self._require("bbs")
        with self._lock:
            candidates = [self.actuals.get(process_guid, {}).get(index),
                          self.evacuating.get((process_guid, index))]
            for actual in candidates:
                if (actual is not None and actual.state == RUNNING and actual.directory is not None
                        and actual.container is not None):
                    container = actual.container
                    return InstanceContainer(actual.directory, dict(actual.env), container.address,
                                             frozenset(m.internal for m in container.mappings))
        raise LookupError(f"instance {index} of {process_guid} is not running")

    def instance_dir_env(self, process_guid: str, index: int) -> tuple[Path, dict[str, str]]:
        found = self.instance_container(process_guid, index)
        return found.home, found.env

    def app_name(self, app_guid: str) -> str | None:
        with self._lock:
            return next((d.app_name for d in self.desired.values() if d.app_guid == app_guid), None)

    # ---------------------------------------------------------------- the loop

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                pending = any(a.state in (UNCLAIMED, CLAIMED)
                              for by_index in self.actuals.values() for a in by_index.values())
                pending = pending or any(a.state == CLAIMED for a in self.evacuating.values())
                now = time.monotonic()
                wait = BUSY_TICK if pending else max(0.0, min(self._next_emit, self._next_converge) - now)
                self._wake.wait(min(wait, IDLE_TICK))
                if self._closed:
                    return
            try:
                self._tick()
            except Exception:
                import traceback

                traceback.print_exc()

    def _tick(self) -> None:
        now = time.monotonic()
        self._check_claimed()
        if now >= self._next_converge:
            self._next_converge = now + self.world.profile.converge_interval
            self._converge()
        self._auction()
        if now >= self._next_emit:
            self._next_emit = now + self.world.profile.route_emit_interval
            self._emit_routes()

    def _check_claimed(self) -> None:
        with self._lock:
            claimed = [(a, rep.health_check_address(a)) for by_index in self.actuals.values()
                       for a in by_index.values() if a.state == CLAIMED]
        for actual, health_check in claimed:
            if health_check is None:
                continue
            try:
                with socket.create_connection(health_check, timeout=0.2):
                    pass
            except OSError:
                continue
            with self._lock:
                if actual.state != CLAIMED or actual.stopping:
                    continue
                actual.state = RUNNING
                actual.since = time.time()
                self._emit(actual.app_guid, "CELL", actual.index, "Container became healthy")
                if self._up("route_emitter"):
                    self._register(actual)
                self._wake.notify_all()

    # ---------------------------------------------------------------- auctioneer

    def _auction(self) -> None:
        if not (self._up("bbs") and self._up("auctioneer")):
            return
        with self._lock:
            unclaimed = [(self.desired[pg], a) for pg, by_index in self.actuals.items()
                         for a in by_index.values() if a.state == UNCLAIMED and pg in self.desired]
        if not unclaimed:
            return
        cells = self.cells()
        placements: list[tuple[DesiredLRP, ActualLRP, Cell]] = []
        with self._lock:
            load: dict[str, int] = {c.id: 0 for c in cells}
            per_app: dict[tuple[str, str], int] = {}
            for a in self._every_actual():
                if a.cell_id in load:
                    load[a.cell_id] += 1
                    per_app[(a.process_guid, a.cell_id)] = per_app.get((a.process_guid, a.cell_id), 0) + 1
            for desired, actual in unclaimed:
                misplace = self.world.faults.active("misplace_instances", desired.app_name)
                eligible = cells if misplace else [c for c in cells if c.id not in self.draining]
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
            self._start(desired, actual, cell)

    def _every_actual(self) -> list[ActualLRP]:
        return [a for by_index in self.actuals.values() for a in by_index.values()] + list(self.evacuating.values())

    def _start(self, desired: DesiredLRP, actual: ActualLRP, cell: Cell) -> None:
        guid, index, app_guid = actual.instance_guid, actual.index, actual.app_guid
        self._emit(app_guid, "CELL", index, f"Creating container for app {desired.app_name}, "
                   f"container handle: {guid}")

        def on_line(stream: str, text: str) -> None:
            self._emit(app_guid, "APP", index, text, stream)

        def on_exit(code: int) -> None:
            self._on_exit(actual, code)

        try:
            rep.launch(desired, actual, cell, self.garden, self.instances_dir, on_line, on_exit)
        except Exception as exc:
            with self._lock:
                actual.state = CRASHED
                actual.crash_reason = f"failed to start: {exc}"
                actual.crash_count += 1
                actual.crashed_at = time.monotonic()
                actual.since = time.time()
            return
        self._emit(app_guid, "CELL", index, f"Successfully created container for instance {guid}")
        self._emit(app_guid, "CELL", index, "Starting health monitoring of container")
        with self._lock:
            still_wanted = any(a is actual for a in self._every_actual())
        if not still_wanted:
            actual.stopping = True
            threading.Thread(target=rep.destroy, args=(actual, STOP_TIMEOUT), daemon=True).start()

    def _on_exit(self, actual: ActualLRP, code: int) -> None:
        with self._lock:
            if actual.stopping or self._closed:
                return
            current = self.actuals.get(actual.process_guid, {}).get(actual.index) is actual
            evacuating = self.evacuating.get((actual.process_guid, actual.index)) is actual
            if not (current or evacuating):
                return
            directory, container = actual.directory, actual.container
            if self._up("route_emitter"):
                self._unregister(actual)
            if evacuating:
                del self.evacuating[(actual.process_guid, actual.index)]
            else:
                actual.state = CRASHED
                actual.since = time.time()
                actual.crash_count += 1
                actual.crashed_at = time.monotonic()
                actual.crash_reason = f"APP/PROC/WEB: Exited with status {code}"
            self._wake.notify_all()
        self._emit(actual.app_guid, "CELL", actual.index, f"Exit status {code}")
        self._emit(actual.app_guid, "API", actual.index,
                   f"App instance exited with guid {actual.app_guid} payload: "
                   f"{{\"instance\"=>\"{actual.instance_guid}\", \"index\"=>{actual.index}, "
                   f"\"reason\"=>\"CRASHED\", \"exit_description\"=>\"{actual.crash_reason}\"}}")
        self._record(actual.app_guid, "app.crash", {"instance": actual.instance_guid, "index": actual.index,
                                                    "exit_status": code, "reason": "CRASHED",
                                                    "exit_description": actual.crash_reason})
        rep.destroy_handles(None, directory, container)  # the rep deletes a crashed container

    # ---------------------------------------------------------------- converger

    def _backoff(self, actual: ActualLRP) -> float:
        interval = self.world.profile.converge_interval
        if actual.crash_count <= 3:
            return 0.0
        return min(interval * 2 ** (actual.crash_count - 3), interval * 16)

    def _converge(self) -> None:
        cell_ids = {c.id for c in self.cells()}
        lost: list[ActualLRP] = []
        with self._lock:
            # instances whose cell has gone away (stopped/deleted/failing without a drain)
            for a in self._every_actual():
                if a.state in (CLAIMED, RUNNING) and a.cell_id not in cell_ids:
                    lost.append(a)
        for a in lost:
            self._lose(a)
        if not (self._up("bbs") and self._up("converger")):
            return
        now = time.monotonic()
        with self._lock:
            for pg, desired in self.desired.items():
                by_index = self.actuals.setdefault(pg, {})
                for index in range(desired.instances):
                    if index not in by_index:
                        by_index[index] = self._new_actual(desired, index)
                for actual in by_index.values():
                    if actual.state == CRASHED and now - actual.crashed_at >= self._backoff(actual):
                        actual.state = UNCLAIMED
                        actual.since = time.time()
                        actual.cell_id = actual.cell_ip = None
                        actual.port = actual.address = None
                        actual.process = actual.container = None
                        actual.instance_guid = str(uuid.uuid4())
            self._wake.notify_all()

    def _lose(self, actual: ActualLRP) -> None:
        """The cell under `actual` is gone: its process dies with it; it counts as crashed."""
        with self._lock:
            key = (actual.process_guid, actual.index)
            if self.evacuating.get(key) is actual:
                del self.evacuating[key]
            elif self.actuals.get(actual.process_guid, {}).get(actual.index) is actual:
                actual.state = CRASHED
                actual.since = time.time()
                actual.crashed_at = time.monotonic()
                actual.crash_count += 1
                actual.crash_reason = "cell disappeared"
            else:
                return
            actual.stopping = True
            if self._up("route_emitter"):
                self._unregister(actual)
            handles = (actual.process, actual.directory, actual.container)
            cell_id, guid = actual.cell_id, actual.instance_guid
        self._emit(actual.app_guid, "CELL", actual.index, f"Cell {cell_id} stopped instance {guid}")
        rep.destroy_handles(*handles, timeout=1.0)

    # ---------------------------------------------------------------- route emitter

    def _router(self) -> Any:
        return self.world.components.get("router")

    def _tag(self, actual: ActualLRP) -> Any:
        from simulator.router.table import RouteTag

        desired = self.desired.get(actual.process_guid)
        return RouteTag(actual.app_guid, desired.app_name if desired else "", actual.index, actual.instance_guid)

    def _register(self, actual: ActualLRP) -> None:
        router = self._router()
        desired = self.desired.get(actual.process_guid)
        if router is None or desired is None or actual.address is None:
            return
        tag = self._tag(actual)
        for host in desired.routes:
            router.register(host, actual.address, tag, (actual.cell_ip, actual.port))

    def _unregister(self, actual: ActualLRP, hosts: set[str] | None = None) -> None:
        router = self._router()
        desired = self.desired.get(actual.process_guid)
        if router is None or actual.address is None:
            return
        for host in hosts if hosts is not None else (desired.routes if desired else []):
            router.unregister(host, actual.address)

    def _register_running(self, process_guid: str) -> None:
        if not self._up("route_emitter"):
            return
        for actual in self._all_actuals(process_guid):
            if actual.state == RUNNING:
                self._register(actual)

    def _emit_routes(self) -> None:
        if not self._up("route_emitter"):
            return
        with self._lock:
            for actual in self._every_actual():
                if actual.state == RUNNING and not actual.stopping:
                    self._register(actual)

    def routes_registered(self, actual: ActualLRP) -> bool:
        router = self._router()
        desired = self.desired.get(actual.process_guid)
        if router is None or desired is None or actual.address is None:
            return True
        return all(router.registered(host, actual.address) for host in desired.routes)

    # ---------------------------------------------------------------- stopping

    def _retire(self, actuals: list[ActualLRP]) -> None:
        """Stop instances nobody wants any more (scale down, delete, after evacuation)."""
        if not actuals:
            return
        with self._lock:
            up = self._up("route_emitter")
            for actual in actuals:
                actual.stopping = True
                if up:
                    self._unregister(actual)
        for actual in actuals:
            if actual.process is not None:
                self._emit(actual.app_guid, "CELL", actual.index, f"Stopping instance {actual.instance_guid}")
                self._emit(actual.app_guid, "CELL", actual.index,
                           f"Destroying container for instance {actual.instance_guid}")
            threading.Thread(target=self._destroy_logged, args=(actual,), daemon=True).start()

    def _destroy_logged(self, actual: ActualLRP) -> None:
        had_process = actual.process is not None
        time.sleep(self.world.profile.unregister_grace)  # in-flight requests finish first
        rep.destroy(actual, STOP_TIMEOUT)
        if had_process:
            self._emit(actual.app_guid, "CELL", actual.index,
                       f"Successfully destroyed container for instance {actual.instance_guid}")

    # ---------------------------------------------------------------- cells: bus events

    def _on_started(self, inst: InstanceView) -> None:
        with self._lock:
            self.draining.discard(inst.id)
            self._wake.notify_all()

    def _on_cell_gone(self, inst: InstanceView) -> None:
        if not inst.has_template("rep"):
            self.kick()
            return
        with self._lock:
            on_cell = [a for a in self._every_actual() if a.cell_id == inst.id and a.state in (CLAIMED, RUNNING)]
        for actual in on_cell:
            self._lose(actual)
        self.kick()

    def _on_drain(self, inst: InstanceView) -> None:
        """The rep's drain: evacuate every instance to another cell, replacement first."""
        if not inst.has_template("rep"):
            return
        cell_id = inst.id
        replacements: list[tuple[ActualLRP, ActualLRP]] = []
        with self._lock:
            self.draining.add(cell_id)
            for pg, by_index in self.actuals.items():
                desired = self.desired.get(pg)
                for index, old in list(by_index.items()):
                    if old.cell_id != cell_id or old.state not in (CLAIMED, RUNNING) or desired is None:
                        continue
                    old.evacuating = True
                    self.evacuating[(pg, index)] = old
                    new = self._new_actual(desired, index)
                    by_index[index] = new
                    replacements.append((old, new))
                    self._emit(old.app_guid, "CELL", index, f"Cell {cell_id} requesting replacement for "
                               f"instance {old.instance_guid}")
            self._wake.notify_all()
        if not replacements:
            return
        deadline = time.monotonic() + self._evacuation_timeout(inst)
        pending = list(replacements)
        while pending and time.monotonic() < deadline and not self._closed:
            done = []
            for old, new in pending:
                with self._lock:
                    ready = new.state == RUNNING and self.routes_registered(new)
                    superseded = not any(a is new for a in self._every_actual())
                if ready or superseded:
                    done.append((old, new))
            for pair in done:
                pending.remove(pair)
                self._finish_evacuation(pair[0])
            if pending:
                time.sleep(BUSY_TICK)
        for old, _new in pending:
            self._emit(old.app_guid, "CELL", old.index, f"Cell {cell_id} reached evacuation timeout for "
                       f"instance {old.instance_guid}")
            self._finish_evacuation(old)

    def _finish_evacuation(self, old: ActualLRP) -> None:
        with self._lock:
            key = (old.process_guid, old.index)
            if self.evacuating.get(key) is old:
                del self.evacuating[key]
            old.stopping = True
            unregistered = self._up("route_emitter")
            if unregistered:
                self._unregister(old)
        if unregistered:
            time.sleep(self.world.profile.unregister_grace)
        self._emit(old.app_guid, "CELL", old.index, f"Stopping instance {old.instance_guid}")
        rep.destroy(old, STOP_TIMEOUT)

    # ---------------------------------------------------------------- faults

    def _fault_kill_instance(self, fault: Fault) -> None:
        index = int(fault.params.get("index", 0))
        with self._lock:
            targets = [a for pg, d in self.desired.items() if fault.target in (d.app_name, d.app_guid)
                       for i, a in self.actuals.get(pg, {}).items() if i == index]
        if not targets:
            raise LookupError(f"no instance {index} of app {fault.target!r} to kill")
        for actual in targets:
            if actual.process is not None:
                actual.process.kill()
