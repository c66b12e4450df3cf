"""The director's update engine: turn a bound plan (plus an optional job-state change) into
instance changes and carry them out with BOSH update semantics.

Order of a deploy task, as on a real director: Preparing deployment -> Deleting unneeded
instances -> Creating missing vms -> Updating instance (instance groups in manifest order;
a `serial` group waits for everything before it and everything after it waits for it;
adjacent non-serial groups run in parallel; inside a group the canaries go first, then the
rest `max_in_flight` at a time). Only instances whose spec or state changes are touched, so
redeploying the same manifest updates nothing.

For each instance that stops, the director emits `drain` (blocking: a cell evacuates) and
`stopped` on the world bus; updated instances get their new templates/properties and emit
`started` once running again; removed ones emit `deleted`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from simulator.director import errors
from simulator.director.errors import DirectorError
from simulator.director.manifest import GroupPlan, Plan
from simulator.director.state import Deployment, DirectorState, Instance
from simulator.director.tasks import Stage, StageStep, Task, TaskCancelled
from simulator.world import InstanceView

# the "Preparing deployment" tasks of a 2015 director (bosh 1.3167)
BINDING_STEPS = ("Binding deployment", "Binding releases", "Binding existing deployment", "Binding resource pools",
                 "Binding stemcells", "Binding templates", "Binding properties", "Binding unallocated VMs",
                 "Binding instance networks")


def consume_task_faults(director: DirectorState, task: Task, deployment: str) -> str | None:
    """Apply delay/cancel faults now; return the message of a fail_next_task fault, if any."""
    faults = director.world.faults
    delay = faults.consume("delay_next_task", deployment)
    if delay is not None:
        seconds = float(delay.params.get("seconds", 1.0))
        task.debug(f"simulator fault: delaying task by {seconds}s")
        task.sleep(seconds)
    if faults.consume("cancel_next_task", deployment) is not None:
        task.debug("simulator fault: cancelling task")
        task.request_cancel()
    task.checkpoint()
    fail = faults.consume("fail_next_task", deployment)
    if fail is not None:
        return str(fail.params.get("message") or f"Simulated failure of the task for deployment '{deployment}'")
    return None


@dataclass
class Spec:
    templates: list
    properties: dict[str, Any]
    networks: dict[str, str]
    stemcell: tuple[str, str]
    vm_type: str
    persistent_disk: Any
    az: str | None

    @property
    def digest(self) -> str:
        doc = {"templates": [(t.name, t.release, t.release_version) for t in self.templates],
               "properties": self.properties, "networks": sorted(self.networks.items()),
               "stemcell": list(self.stemcell), "vm_type": self.vm_type, "disk": self.persistent_disk}
        return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Change:
    instance: Instance
    group: GroupPlan
    spec: Spec
    target: str  # started | stopped | detached
    recreate: bool
    new: bool


class Updater:
    def __init__(self, director: DirectorState, task: Task, name: str, manifest_text: str, manifest: dict[str, Any],
                 options: dict[str, Any], state_change: tuple[tuple[str, str | None], str] | None = None) -> None:
        self.d, self.task, self.name = director, task, name
        self.manifest_text, self.manifest, self.options = manifest_text, manifest, options
        self.state_change = state_change
        self.profile = director.world.profile
        self.bus = director.world.bus
        self._pending: list[str] = []

    # ------------------------------------------------------------------ top level

    def run(self) -> None:
        """The deploy, recorded as a begin/end pair of deployment events (`/events`)."""
        with self.d._lock:
            existed = self.name in self.d.deployments
        begin = self.d.events.record(self.task.user, "update" if existed else "create", "deployment", self.name,
                                     task=self.task.id, deployment=self.name)
        error: str | None = None
        try:
            self._run()
        except DirectorError as exc:
            error = exc.description
            raise
        except TaskCancelled:
            error = "task cancelled"
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.d.events.record(self.task.user, begin.action, "deployment", self.name, task=self.task.id,
                                 deployment=self.name, parent=begin, error=error)

    def _run(self) -> None:
        task = self.task
        fail_message = consume_task_faults(self.d, task, self.name)
        prep = Stage(task, "Preparing deployment", len(BINDING_STEPS))
        first = prep.step(BINDING_STEPS[0])
        first.started()
        try:
            plan = self.d.bind(self.manifest)
        except DirectorError as exc:
            first.failed(exc.description)
            raise
        task.sleep(self.profile.stage_step)
        task.checkpoint()
        first.finished()
        for label in BINDING_STEPS[1:]:
            step = prep.step(label)
            step.started()
            step.finished()
        if fail_message is not None:
            raise DirectorError(errors.SIMULATED_FAILURE, fail_message)
        if self.options.get("dry_run"):
            return
        self._compile(plan)

        try:
            dep, removals, changes = self._plan(plan)
            self._delete_unneeded(dep, removals)
            self._create_missing(dep, [c for c in changes if c.new and c.target != "detached"])
        finally:
            with self.d._lock:
                for ip in self._pending:
                    self.d.pending_ips.pop(ip, None)
        self._update_groups(plan, changes)
        with self.d._lock:
            dep.plan = plan
            dep.manifest_text = self.manifest_text

    def _compile(self, plan: Plan) -> None:
        """Compile each (release version, job, stemcell) the first time it is deployed."""
        comp = Stage(self.task, "Preparing package compilation", 1)
        s = comp.step("Finding packages to compile")
        s.started()
        with self.d._lock:
            todo = sorted({(t.release, t.release_version, t.name, g.stemcell) for g in plan.groups
                           for t in g.templates} - self.d.compiled)
        s.finished()
        if not todo:
            return
        stage = Stage(self.task, "Compiling packages", len(todo))
        for release, version, job, stemcell in todo:
            self.task.checkpoint()
            fingerprint = hashlib.sha1(f"{release}/{version}/{job}".encode()).hexdigest()
            step = stage.step(f"{job}/{fingerprint}")
            step.started()
            step.finished()
            with self.d._lock:
                self.d.compiled.add((release, version, job, stemcell))
        self.task.sleep(self.profile.stage_step)

    # ------------------------------------------------------------------ planning

    def _skip_drain(self, group: str) -> bool:
        """The `skip_drain` option: True (all groups), or the set of instance groups it names."""
        value = self.options.get("skip_drain")
        if isinstance(value, set | frozenset):
            return group in value
        return bool(value)

    def _override(self, group: str, instance_id: str) -> str | None:
        if self.state_change is None:
            return None
        (job, iid), state = self.state_change
        if (job == "*" or job == group) and (iid is None or iid == instance_id):
            return state
        return None

    def _plan(self, plan: Plan) -> tuple[Deployment, list[Instance], list[Change]]:
        d = self.d
        with d._lock:
            dep = d.deployments.get(self.name)
            if dep is None:
                dep = Deployment(self.name, self.manifest_text, plan)
                d.deployments[self.name] = dep
            existing = list(dep.instances)
            wanted = {g.name: g for g in plan.groups if not g.is_errand}
            removals = [i for i in existing
                        if i.view.group not in wanted or i.view.index >= wanted[i.view.group].instances]
            removed_ids = {i.view.id for i in removals}
            held: dict[str, str] = {}
            dep_of: dict[str, str] = {}
            for other in d.deployments.values():
                for inst in other.instances:
                    if inst.view.id in removed_ids:
                        continue
                    dep_of[inst.view.id] = other.name
                    for ip in inst.networks.values():
                        held[ip] = inst.view.id
            # allocation happens under the director lock, and addresses of instances not yet
            # created are held in `pending_ips`, so concurrent deploys never hand out the same IP
            for ip, (dep_name, inst_id) in d.pending_ips.items():
                if dep_name != self.name:
                    held.setdefault(ip, inst_id)
                    dep_of.setdefault(inst_id, dep_name)
            pools: dict[str, tuple[list[str], set[str]]] = {}
            changes: list[Change] = []
            by_key = {(i.view.group, i.view.index): i for i in existing}
            recreate_all = bool(self.options.get("recreate"))
            for g in wanted.values():
                for index in range(g.instances):
                    inst = by_key.get((g.name, index))
                    inst_id = inst.view.id if inst else str(uuidlib.uuid4())
                    prev = inst.networks if inst else {}
                    nets = self._allocate(plan, g, index, inst_id, prev, held, dep_of, pools)
                    az = g.azs[index % len(g.azs)] if g.azs else None
                    spec = Spec(list(g.templates), g.properties, nets, g.stemcell, g.vm_type, g.persistent_disk, az)
                    override = self._override(g.name, inst_id)
                    if inst is None:
                        view = InstanceView(self.name, g.name, index, inst_id, list(nets.values()), list(g.templates),
                                            g.properties, state="started", job_state="starting")
                        inst = Instance(view=view, az=az, vm_type=g.vm_type, stemcell=g.stemcell,
                                        networks=dict(nets), bootstrap=index == 0, persistent_disk=g.persistent_disk)
                        target = override if override in ("started", "stopped", "detached") else "started"
                        changes.append(Change(inst, g, spec, target, False, True))
                        continue
                    target = "started" if override in ("restart", "recreate") else (override or inst.view.state)
                    recreate = override == "recreate" or (recreate_all and inst.vm_cid is not None)
                    changed = inst.digest != spec.digest
                    v = inst.view
                    if target == "started":
                        needed = (recreate or override == "restart" or changed or inst.vm_cid is None
                                  or v.state != "started" or v.job_state != "running")
                    elif target == "stopped":
                        needed = changed or inst.vm_cid is None or v.state != "stopped" or v.job_state != "stopped"
                    else:
                        needed = changed or inst.vm_cid is not None or v.state != "detached"
                    if needed:
                        changes.append(Change(inst, g, spec, target, recreate, False))
            for c in changes:
                if c.new:
                    for ip in c.spec.networks.values():
                        d.pending_ips[ip] = (self.name, c.instance.view.id)
                        self._pending.append(ip)
        return dep, removals, changes

    @staticmethod
    def _allocate(plan: Plan, g: GroupPlan, index: int, inst_id: str, prev: dict[str, str], held: dict[str, str],
                  dep_of: dict[str, str], pools: dict[str, tuple[list[str], set[str]]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for nname, statics in g.networks:
            if statics:
                ip = statics[index]
                owner = held.get(ip)
                if owner and owner != inst_id and dep_of.get(owner) not in (None, plan.name):
                    raise errors.deployment_invalid(
                        f"Failed to reserve IP '{ip}' for '{g.name}/{index}': already reserved by deployment "
                        f"'{dep_of[owner]}'", errors.NETWORK_IP_IN_USE)
            else:
                if nname not in pools:
                    pool = [str(ip) for ip in plan.networks[nname].dynamic_pool()]
                    pools[nname] = (pool, set(pool))
                pool, pool_set = pools[nname]
                previous = prev.get(nname)
                if previous and previous in pool_set and held.get(previous) in (None, inst_id):
                    ip = previous
                else:
                    ip = next((p for p in pool if held.get(p) in (None, inst_id)), "")
                    if not ip:
                        raise errors.deployment_invalid(
                            f"Failed to reserve IP for '{g.name}/{index}': no more available dynamic IPs in "
                            f"network '{nname}'", errors.NETWORK_NO_CAPACITY)
            out[nname] = ip
            held[ip] = inst_id
        for ip in [ip for ip, owner in held.items() if owner == inst_id and ip not in out.values()]:
            del held[ip]
        return out

    # ------------------------------------------------------------------ phases

    def _delete_unneeded(self, dep: Deployment, removals: list[Instance]) -> None:
        if not removals:
            return
        stage = Stage(self.task, "Deleting unneeded instances", len(removals))
        for inst in sorted(removals, key=lambda i: (i.view.group, i.view.index)):
            self.task.checkpoint()
            step = stage.step(self.d.label(inst))
            step.started()
            delete_instance(self.d, dep, inst, skip_drain=self._skip_drain(inst.view.group))
            step.finished()

    def _create_missing(self, dep: Deployment, new: list[Change]) -> None:
        if not new:
            return
        stage = Stage(self.task, self.d.era.create_vms_stage, len(new))
        for change in new:
            self.task.checkpoint()
            step = stage.step(self.d.label(change.instance))
            step.started()
            create_vm(change.instance)
            with self.d._lock:
                dep.instances.append(change.instance)
            self.task.sleep(self.profile.stage_step)
            step.finished()

    def _update_groups(self, plan: Plan, changes: list[Change]) -> None:
        detached_new = [c for c in changes if c.new and c.target == "detached"]
        for c in detached_new:
            c.instance.view.state = "detached"
            c.instance.view.job_state = "stopped"
        with self.d._lock:
            dep = self.d.deployments[self.name]
            for c in detached_new:
                if c.instance not in dep.instances:
                    dep.instances.append(c.instance)
        by_group: dict[str, list[Change]] = {}
        for c in changes:
            if c.new and c.target == "detached":
                continue
            by_group.setdefault(c.group.name, []).append(c)
        batches: list[list[GroupPlan]] = []
        serial_last = True
        for g in plan.groups:
            if g.name not in by_group:
                continue
            if g.update.serial or serial_last or not batches:
                batches.append([g])
            else:
                batches[-1].append(g)
            serial_last = g.update.serial
        for batch in batches:
            self.task.checkpoint()
            if len(batch) == 1:
                self._update_group(batch[0], by_group[batch[0].name])
                continue
            with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix=f"task{self.task.id}-group") as pool:
                futures = [pool.submit(self._update_group, g, by_group[g.name]) for g in batch]
            excs = [f.exception() for f in futures if f.exception() is not None]
            if excs:
                raise excs[0]  # type: ignore[misc]

    def _update_group(self, g: GroupPlan, changes: list[Change]) -> None:
        changes = sorted(changes, key=lambda c: c.instance.view.index)
        update = g.update.with_overrides(self.options.get("canaries"), self.options.get("max_in_flight"))
        n = len(changes)
        canaries = update.canary_count(n)
        in_flight = update.in_flight(n)
        stage = Stage(self.task, self.d.era.update_stage, n, [g.name])
        failed: list[BaseException] = []
        lock = threading.Lock()

        def one(change: Change, canary: bool) -> None:
            with lock:
                if failed or self.task.cancel_requested:
                    return
            label = self.d.label(change.instance) + (" (canary)" if canary else "")
            step = stage.step(label)
            step.started()
            view = change.instance.view
            name = f"{view.group}/{view.id}"
            begin = self.d.events.record(self.task.user, self._instance_action(change), "instance", name,
                                         task=self.task.id, deployment=self.name, instance=name)
            try:
                self._apply(change, step, canary)
            except TaskCancelled:
                return
            except Exception as exc:
                message = exc.description if isinstance(exc, DirectorError) else f"{type(exc).__name__}: {exc}"
                self.d.events.record(self.task.user, begin.action, "instance", name, task=self.task.id,
                                     deployment=self.name, instance=name, parent=begin, error=message)
                step.failed(message)
                with lock:
                    failed.append(exc if isinstance(exc, DirectorError)
                                  else DirectorError(errors.INSTANCE_NOT_RUNNING,
                                                     f"{self.d.era.q(self.d.label(change.instance))} is not running after update: {message}"))
                return
            self.d.events.record(self.task.user, begin.action, "instance", name, task=self.task.id,
                                 deployment=self.name, instance=name, parent=begin)
            step.finished()

        def run(batch: list[Change], canary: bool, width: int) -> None:
            if not batch:
                return
            if width <= 1 or len(batch) == 1:
                for c in batch:
                    one(c, canary)
                return
            with ThreadPoolExecutor(max_workers=min(width, len(batch)),
                                    thread_name_prefix=f"task{self.task.id}-{g.name}") as pool:
                list(pool.map(lambda c: one(c, canary), batch))

        run(changes[:canaries], True, min(canaries, in_flight))
        if failed:
            raise failed[0]
        self.task.checkpoint()
        run(changes[canaries:], False, in_flight)
        if failed:
            raise failed[0]
        self.task.checkpoint()

    def _instance_action(self, change: Change) -> str:
        """The event action of an instance update: the state change asked for, else create/update."""
        override = self._override(change.group.name, change.instance.view.id)
        if override is not None:
            return {"started": "start", "stopped": "stop", "detached": "stop"}.get(override, override)
        return "create" if change.new else ("recreate" if change.recreate else "update")

    def _apply(self, change: Change, step: StageStep, canary: bool) -> None:
        inst, spec, view = change.instance, change.spec, change.instance.view
        if inst.vm_cid is not None and view.job_state in ("running", "failing"):
            stop_instance(self.d, inst, step, skip_drain=self._skip_drain(view.group))
        if inst.vm_cid is not None and (change.recreate or change.target == "detached"):
            step.progress("deleting vm")
            inst.vm_cid = None
            inst.agent_id = None
        # apply the new spec (templates, properties, versions, addresses)
        view.templates = list(spec.templates)
        view.properties = spec.properties
        view.ips = list(spec.networks.values())
        inst.networks = dict(spec.networks)
        inst.stemcell, inst.vm_type, inst.az = spec.stemcell, spec.vm_type, spec.az
        inst.persistent_disk = spec.persistent_disk
        inst.digest = spec.digest
        if change.target == "detached":
            view.state = "detached"
            view.job_state = "stopped"
            return
        if inst.vm_cid is None:
            step.progress("creating vm")
            create_vm(inst)
        step.progress("updating")
        self.task.sleep(self.profile.instance_update)
        if change.target == "stopped":
            view.state = "stopped"
            view.job_state = "stopped"
            return
        step.progress("starting jobs")
        view.state = "started"
        try:
            view.job_state = "running"
            inst.running_since = time.monotonic()
            self.bus.emit("started", view)
        except Exception:
            view.job_state = "failing"
            raise
        self.task.sleep(self.profile.canary_watch if canary else self.profile.update_watch)


# ---------------------------------------------------------------------- instance operations


def create_vm(inst: Instance) -> None:
    inst.vm_cid = f"vm-{uuidlib.uuid4()}"
    inst.agent_id = str(uuidlib.uuid4())
    inst.vm_created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def stop_instance(director: DirectorState, inst: Instance, step: StageStep | None, skip_drain: bool = False) -> None:
    """drain (blocking) -> job_state stopped -> `stopped` event."""
    view = inst.view
    if not skip_drain:
        if step:
            step.progress("draining")
        director.world.bus.emit("drain", view)
    if step:
        step.progress("stopping jobs")
    view.job_state = "stopped"
    director.world.bus.emit("stopped", view)


def delete_instance(director: DirectorState, dep: Deployment, inst: Instance, skip_drain: bool = False,
                    force: bool = False) -> None:
    try:
        if inst.vm_cid is not None and inst.view.job_state in ("running", "failing"):
            stop_instance(director, inst, None, skip_drain)
        inst.vm_cid = None
        inst.view.state = "detached"
        inst.view.job_state = "stopped"
        director.world.bus.emit("deleted", inst.view)
    except Exception:
        if not force:
            raise
    finally:
        with director._lock:
            if inst in dep.instances and (force or inst.vm_cid is None):
                dep.instances.remove(inst)


def delete_deployment(director: DirectorState, task: Task, name: str, force: bool) -> None:
    begin = director.events.record(task.user, "delete", "deployment", name, task=task.id, deployment=name)
    error: str | None = None
    try:
        _delete_deployment(director, task, name, force)
    except Exception as exc:
        error = exc.description if isinstance(exc, DirectorError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        director.events.record(task.user, "delete", "deployment", name, task=task.id, deployment=name, parent=begin,
                               error=error)


def _delete_deployment(director: DirectorState, task: Task, name: str, force: bool) -> None:
    fail_message = consume_task_faults(director, task, name)
    if fail_message is not None:
        raise DirectorError(errors.SIMULATED_FAILURE, fail_message)
    dep = director.get_deployment(name)
    instances = sorted(dep.instances, key=lambda i: (i.view.group, i.view.index))
    if instances:
        stage = Stage(task, "Deleting instances", len(instances))
        for inst in instances:
            task.checkpoint()
            step = stage.step(director.label(inst))
            step.started()
            try:
                delete_instance(director, dep, inst, force=force)
            except Exception as exc:
                step.failed(f"{type(exc).__name__}: {exc}")
                raise
            step.finished()
    stage = Stage(task, "Removing deployment artifacts", 1)
    step = stage.step("Detaching stemcells")
    step.started()
    with director._lock:
        director.deployments.pop(name, None)
    step.finished()

