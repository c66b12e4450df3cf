"""The BBS: Diego's LRP state. Desired LRPs (what CC's nsync wants), actual LRPs (one per
index: UNCLAIMED, CLAIMED by a cell, RUNNING, CRASHED) and the evacuating ones a draining cell
still runs until their replacement does.

Only records and their rules here; the other parts (auctioneer, converger, route emitter,
reps) change them under `lock` and wait on `wake` for work. What a change means for running
processes and routes is theirs to carry out (`runtime.Diego` puts the two together).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from simulator.diego.models import (
    CLAIMED,
    RUNNING,
    UNCLAIMED,
    ActualLRP,
    DesiredLRP,
    Droplet,
    InstanceContainer,
)


class Bbs:
    def __init__(self) -> None:
        self.desired: dict[str, DesiredLRP] = {}
        self.actuals: dict[str, dict[int, ActualLRP]] = {}
        self.evacuating: dict[tuple[str, int], ActualLRP] = {}
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.closed = False  # the simulator shuts down: no part acts on the records any more

    # ---------------------------------------------------------------- changes

    def desire(self, process_guid: str, app_guid: str, app_name: str, droplet: Droplet, env: dict[str, str],
               routes: list[str], memory_mb: int) -> None:
        """A new desired LRP (no instances yet: `scale` adds them), or a new droplet for one."""
        with self.lock:
            if process_guid in self.desired:
                self.desired[process_guid].droplet = droplet
            else:
                self.desired[process_guid] = DesiredLRP(process_guid, app_guid, app_name, 0, droplet,
                                                        dict(env), list(routes), memory_mb)
                self.actuals[process_guid] = {}

    def desired_lrp(self, process_guid: str) -> DesiredLRP:
        desired = self.desired.get(process_guid)
        if desired is None:
            raise KeyError(f"unknown process guid {process_guid}")
        return desired

    def set_routes(self, process_guid: str, routes: list[str]) -> set[str]:
        """New routes for the LRP; the hosts it no longer has."""
        with self.lock:
            desired = self.desired_lrp(process_guid)
            gone = set(desired.routes) - set(routes)
            desired.routes = list(routes)
            return gone

    def scale(self, process_guid: str, instances: int) -> list[ActualLRP]:
        """New unclaimed actual LRPs up to `instances`; the ones past it (evacuating included),
        which nobody wants any more."""
        removed: list[ActualLRP] = []
        with self.lock:
            desired = self.desired_lrp(process_guid)
            desired.instances = instances
            by_index = self.actuals[process_guid]
            for index in range(instances):
                if index not in by_index:
                    by_index[index] = self.new_actual(desired, index)
            for index in [i for i in by_index if i >= instances]:
                removed.append(by_index.pop(index))
            for key in [k for k in self.evacuating if k[0] == process_guid and k[1] >= instances]:
                removed.append(self.evacuating.pop(key))
        return removed

    def retire_index(self, process_guid: str, index: int) -> ActualLRP | None:
        """A fresh unclaimed actual LRP at `index`; the one it replaces (None: nothing there)."""
        with self.lock:
            desired = self.desired.get(process_guid)
            by_index = self.actuals.get(process_guid)
            if desired is None or by_index is None or index not in by_index:
                return None
            old = by_index[index]
            by_index[index] = self.new_actual(desired, index)
            self.wake.notify_all()
            return old

    def remove(self, process_guid: str) -> list[ActualLRP]:
        """Forget the LRP; its actual LRPs (evacuating included)."""
        with self.lock:
            self.desired.pop(process_guid, None)
            removed = list(self.actuals.pop(process_guid, {}).values())
            for key in [k for k in self.evacuating if k[0] == process_guid]:
                removed.append(self.evacuating.pop(key))
            return removed

    def close(self) -> list[ActualLRP]:
        """Shut down: forget everything; every actual LRP there was."""
        with self.lock:
            self.closed = True
            everything = self.every_actual()
            self.actuals.clear()
            self.evacuating.clear()
            self.desired.clear()
            self.wake.notify_all()
            return everything

    def kick(self) -> None:
        """Wake whoever waits for work (the runtime's loop)."""
        with self.lock:
            self.wake.notify_all()

    @staticmethod
    def new_actual(desired: DesiredLRP, index: int) -> ActualLRP:
        return ActualLRP(desired.process_guid, desired.app_guid, index, str(uuid.uuid4()), UNCLAIMED,
                         time.time())

    # ---------------------------------------------------------------- reads

    def all_actuals(self, process_guid: str) -> list[ActualLRP]:
        """The LRP's actual LRPs, evacuating ones included."""
        result = list(self.actuals.get(process_guid, {}).values())
        result += [a for k, a in self.evacuating.items() if k[0] == process_guid]
        return result

    def every_actual(self) -> list[ActualLRP]:
        return [a for by_index in self.actuals.values() for a in by_index.values()] + list(self.evacuating.values())

    def placement_pending(self) -> bool:
        """Something waits to be placed or to become healthy (the loop then ticks fast)."""
        with self.lock:
            pending = any(a.state in (UNCLAIMED, CLAIMED)
                          for by_index in self.actuals.values() for a in by_index.values())
            return pending or any(a.state == CLAIMED for a in self.evacuating.values())

    def instances(self, process_guid: str) -> list[ActualLRP]:
        """One record per index: the current instance, or while it is not yet running, the
        evacuating one that still serves (as CC's reporter resolves an ActualLRPGroup)."""
        with self.lock:
            result = []
            for index, actual in sorted(self.actuals.get(process_guid, {}).items()):
                old = self.evacuating.get((process_guid, index))
                shown = old if (old is not None and actual.state != RUNNING and old.state == RUNNING) else actual
                result.append(shown.public())
            return result

    def desired_lrps(self) -> list[DesiredLRP]:
        with self.lock:
            return list(self.desired.values())

    def instance_container(self, process_guid: str, index: int) -> InstanceContainer:
        """The running instance at `index` as seen from inside its container (for ssh)."""
        with self.lock:
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
        with self.lock:
            return next((d.app_name for d in self.desired.values() if d.app_guid == app_guid), None)
