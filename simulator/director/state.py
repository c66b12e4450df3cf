"""The director's state: releases, stemcells, deployments and their instances, the task
registry and the task runner (deployment locks), and the lookups every job needs.

The jobs that change it (updater.py, errands.py, agents.py) and the director's operations
(models.py, which submits them) stand on this module; it imports none of them.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.catalog import Catalog, load_catalog
from simulator.director import errors
from simulator.director.era import ERA_2015, DirectorEra
from simulator.director.errors import DirectorError
from simulator.director.events import EventLog
from simulator.director.manifest import Plan, bind
from simulator.director.releases import ReleaseVersion, synthetic
from simulator.director.tasks import Task, TaskCancelled
from simulator.world import InstanceView, World

UUID_RE = re.compile(r"^[A-Fa-f0-9]{8}-[A-Fa-f0-9-]{27}$")
# seconds a task waits for a deployment lock, per profile (bosh: `with_deployment_lock` timeout 10)
LOCK_TIMEOUTS = {"fast": 5.0, "realistic": 10.0}


def version_key(version: str) -> tuple:
    """Order release/stemcell versions like the director ("latest" = highest)."""
    parts = re.split(r"[.+\-]", version)
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in parts)


@dataclass
class Stemcell:
    id: int
    name: str
    version: str
    operating_system: str
    cid: str


@dataclass
class Instance:
    """A BOSH instance: the live `InstanceView` the other parts see, plus director-only facts."""

    view: InstanceView
    az: str | None
    vm_type: str
    stemcell: tuple[str, str]
    networks: dict[str, str] = field(default_factory=dict)  # network name -> IP
    vm_cid: str | None = None
    agent_id: str | None = None
    vm_created_at: str | None = None
    digest: str | None = None  # of the spec last applied
    bootstrap: bool = False
    running_since: float = field(default_factory=time.monotonic)
    persistent_disk: Any = None

    @property
    def label(self) -> str:
        return f"{self.view.group}/{self.view.id} ({self.view.index})"


@dataclass
class Deployment:
    name: str
    manifest_text: str
    plan: Plan
    instances: list[Instance] = field(default_factory=list)


class DirectorState:
    """All director state. Thread-safe: API threads read, task threads mutate."""

    def __init__(self, world: World, username: str, password: str, catalog: Catalog | None = None,
                 era: DirectorEra = ERA_2015) -> None:
        self.world = world
        self.era = era
        self.events = EventLog()
        self.username = username
        self.password = password
        self.uuid = str(uuidlib.uuid4())
        self.catalog = catalog or load_catalog()
        self.releases: dict[str, dict[str, ReleaseVersion]] = {}
        self.stemcells: list[Stemcell] = []
        self.deployments: dict[str, Deployment] = {}
        self.tasks: dict[int, Task] = {}
        self._task_ids = iter(range(1, 1 << 62))
        self._lock = threading.RLock()
        self._dep_locks: dict[str, threading.Lock] = {}
        self._lock_holders: dict[str, Task] = {}
        self._lock_timeout: float | None = None
        self.compiled: set[tuple[str, str, str, tuple[str, str]]] = set()  # (release, version, job, stemcell)
        self.pending_ips: dict[str, tuple[str, str]] = {}  # ip -> (deployment, instance id) not yet created
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        world.set_instance_source(self.instance_views)

    # ------------------------------------------------------------------ world API

    def instance_views(self) -> list[InstanceView]:
        with self._lock:
            return [i.view for d in self.deployments.values() for i in d.instances]

    def deployment_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._dep_locks.setdefault(name, threading.Lock())

    # ------------------------------------------------------------------ releases & stemcells

    def add_release(self, rv: ReleaseVersion) -> bool:
        """Store a release version; False if the same one was already there (a re-upload adds
        nothing). Another release under a name and version the director has is refused, as
        the directors of both eras refuse it: another commit first, then a package, then a
        job of another fingerprint (bosh@5ea8a74f9d:bosh-director/lib/bosh/director/jobs/
        update_release.rb:133-136, 198-202, 505-509; bosh@v283.1.6: update_release.rb:146-150,
        283-287). Catalog releases (no tarball) have no packages and are compared by commit."""
        with self._lock:
            versions = self.releases.setdefault(rv.name, {})
            old = versions.get(rv.version)
            if old is None:
                versions[rv.version] = rv
                return True
            label = f"{rv.name}/{rv.version}"
            if (old.commit_hash, old.uncommitted_changes) != (rv.commit_hash, rv.uncommitted_changes):
                named = rv.commit_hash if self.era.name == "2015" else old.commit_hash
                raise errors.release_commit_mismatch(label, named, rv.uncommitted_changes, self.era.q)
            for kind, stored, uploaded in (("package", old.packages, rv.packages),
                                           ("job", old.job_details, rv.job_details)):
                known = {x.name: x.fingerprint for x in stored}
                for x in uploaded:
                    if x.name in known and known[x.name] != x.fingerprint:
                        raise errors.release_reuploaded_otherwise(kind, x.name, label, self.era.q)
            return False

    def add_stemcell(self, name: str, version: str, operating_system: str) -> bool:
        with self._lock:
            if any(s.name == name and s.version == version for s in self.stemcells):
                return False
            sid = len(self.stemcells) + 1
            self.stemcells.append(Stemcell(sid, name, version, operating_system, f"stemcell-{uuidlib.uuid4()}"))
            return True

    def preload(self, version_sets: list[str]) -> None:
        """Upload the releases and stemcell of the named version sets (no tasks, like a warm BOSH-Lite)."""
        for set_name in version_sets:
            vs = self.catalog.version_set(set_name)
            for rname, version in vs.releases.items():
                facts = self.catalog.release(rname, version)
                commit = hashlib.sha1(f"{rname}/{version}".encode()).hexdigest()[:8]
                self.add_release(synthetic(rname, version, facts.jobs, commit))
            st = self.catalog.stemcell(*vs.stemcell)
            self.add_stemcell(st.name, st.version, st.operating_system)

    def resolve_release(self, name: str, version: str) -> tuple[str, tuple[str, ...]]:
        with self._lock:
            versions = self.releases.get(name)
            if not versions:
                raise errors.release_not_found(name, self.era.q)
            if version == "latest":
                version = max(versions, key=version_key)
            if version not in versions:
                raise errors.release_version_not_found(name, version, self.era.q)
            return version, versions[version].jobs

    def resolve_stemcell(self, name: str | None, os: str | None, version: str) -> tuple[str, str]:
        with self._lock:
            found = [s for s in self.stemcells
                     if (name is None or s.name == name) and (os is None or s.operating_system == os)]
            label = name or os or "?"
            if not found:
                raise errors.stemcell_not_found(label, version)
            if version == "latest":
                best = max(found, key=lambda s: version_key(s.version))
                return best.name, best.version
            for s in found:
                if s.version == version:
                    return s.name, s.version
            raise errors.stemcell_not_found(label, version)

    def deployed_releases(self) -> set[tuple[str, str]]:
        with self._lock:
            return {(n, v) for d in self.deployments.values() for n, v in d.plan.releases.items()}

    def deployed_stemcells(self) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        with self._lock:
            for d in self.deployments.values():
                for st in d.plan.stemcells:
                    out.setdefault(st, []).append(d.name)
        return out

    # ------------------------------------------------------------------ tasks

    def new_task(self, type_: str, description: str, user: str, deployment: str | None = None,
                 context_id: str = "") -> Task:
        with self._lock:
            task = Task(next(self._task_ids), type_, description, user, deployment, context_id)
            self.tasks[task.id] = task
            return task

    def task(self, task_id: int) -> Task:
        with self._lock:
            if task_id not in self.tasks:
                raise errors.task_not_found(task_id)
            return self.tasks[task_id]

    def run_task(self, task: Task, work: Callable[[Task], str | None], lock_name: str | None = None,
                 deployment_lock: bool = False) -> Task:
        """Run `work(task)` on a thread: queued -> processing -> done/error/cancelled.

        `deployment_lock`: `lock_name` is a deployment and the task takes its lock the way a
        real director's job does (`LockHelper#with_deployment_lock`): the task is already
        `processing` while it waits, and if another task still holds the lock after
        `lock_timeout` seconds it fails with "Failed to acquire lock for lock:deployment:<name>
        ...". So a second change of a busy deployment queues briefly, then errors; it never
        waits forever. Other locks (release and stemcell uploads) simply serialise."""

        def runner() -> None:
            task.sleep(self.world.profile.task_queue_delay)
            if deployment_lock and lock_name:
                self._run_with_deployment_lock(task, work, lock_name)
                return
            lock = self.deployment_lock(lock_name) if lock_name else threading.Lock()
            with lock:
                if self._closed.is_set():
                    return
                self._execute(task, work, start=True)

        t = threading.Thread(target=runner, name=f"bosh-task-{task.id}", daemon=True)
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()
        return task

    @property
    def lock_timeout(self) -> float:
        """Seconds a task waits for a deployment lock (a real director: 10; the fast profile
        shortens it like every other duration, keeping it well above its longest deploy)."""
        if self._lock_timeout is not None:
            return self._lock_timeout
        return LOCK_TIMEOUTS.get(self.world.profile.name, LOCK_TIMEOUTS["realistic"])

    @lock_timeout.setter
    def lock_timeout(self, seconds: float | None) -> None:
        self._lock_timeout = seconds

    def lock_holder(self, name: str) -> Task | None:
        """The task holding deployment `name`'s lock, if any (for `/locks` and the error text)."""
        with self._lock:
            return self._lock_holders.get(name)

    def _run_with_deployment_lock(self, task: Task, work: Callable[[Task], str | None], name: str) -> None:
        lock = self.deployment_lock(name)
        try:
            task.start()
        except TaskCancelled:
            task.cancelled()
            return
        task.debug(f"Acquiring deployment lock on {name}")
        deadline = time.monotonic() + self.lock_timeout
        while not lock.acquire(timeout=0.05):
            if self._closed.is_set() or task.cancel_requested:
                task.cancelled()
                return
            if time.monotonic() >= deadline:
                holder = self.lock_holder(name)
                task.fail(errors.LOCK_TIMEOUT,
                          f"Failed to acquire lock for lock:deployment:{name} uid: {uuidlib.uuid4()}. "
                          f"Locking task id is {holder.id if holder else '?'}, description: "
                          f"'{holder.description if holder else ''}'")
                return
        try:
            with self._lock:
                self._lock_holders[name] = task
            if self._closed.is_set():
                return
            self._execute(task, work, start=False)
        finally:
            with self._lock:
                if self._lock_holders.get(name) is task:
                    del self._lock_holders[name]
            lock.release()

    @staticmethod
    def _execute(task: Task, work: Callable[[Task], str | None], start: bool) -> None:
        try:
            if start:
                task.start()
            task.checkpoint()
            result = work(task)
            task.finish(result)
        except TaskCancelled:
            task.cancelled()
        except DirectorError as exc:
            task.fail(exc.code, exc.description)
        except Exception as exc:  # a hook or a bug: the task fails with the reason
            task.debug(traceback.format_exc())
            task.fail(errors.SIMULATED_FAILURE, f"{type(exc).__name__}: {exc}")

    def cancel_tasks(self, states: list[str], types: list[str] | None, deployment: str | None) -> list[int]:
        """`POST /tasks/cancel`: cancel every matching task that can still be cancelled."""
        with self._lock:
            tasks = list(self.tasks.values())
        cancelled = []
        for t in tasks:
            if t.state not in states or (types and t.type not in types):
                continue
            if deployment and t.deployment != deployment:
                continue
            if t.request_cancel():
                cancelled.append(t.id)
        return cancelled
    def close(self, timeout: float = 5.0) -> None:
        """Cancel running tasks and wait (bounded) for their threads."""
        self._closed.set()
        with self._lock:
            tasks = list(self.tasks.values())
            threads = list(self._threads)
        for t in tasks:
            t.request_cancel()
        deadline = time.monotonic() + timeout
        for th in threads:
            th.join(max(0.0, deadline - time.monotonic()))


    # ------------------------------------------------------------------ releases (read)

    def release_versions(self, name: str) -> list[ReleaseVersion]:
        """Every version of release `name` in version order (404 when there is none)."""
        with self._lock:
            versions = self.releases.get(name)
            if not versions:
                raise errors.release_not_found(name, self.era.q)
            return sorted(versions.values(), key=lambda r: version_key(r.version))

    def compiled_packages(self, rv: ReleaseVersion) -> dict[str, list[tuple[str, str, str]]]:
        """package name -> [(stemcell name, os, version)] it was compiled for: the packages of
        every job of `rv` that a deploy compiled (updater.py)."""
        with self._lock:
            compiled = [(job, st) for (r, v, job, st) in self.compiled if (r, v) == (rv.name, rv.version)]
            os_of = {(s.name, s.version): s.operating_system for s in self.stemcells}
        out: dict[str, set[tuple[str, str, str]]] = {}
        for job, (st_name, st_version) in compiled:
            details = rv.job(job)
            for package in details.packages if details else ():
                out.setdefault(package, set()).add((st_name, os_of.get((st_name, st_version), ""), st_version))
        return {k: sorted(v) for k, v in out.items()}
    # ------------------------------------------------------------------ deployments

    def get_deployment(self, name: str) -> Deployment:
        with self._lock:
            if name not in self.deployments:
                raise errors.deployment_not_found(name, self.era.q)
            return self.deployments[name]

    def label(self, inst: Instance) -> str:
        """How the event log names an instance: `job/index` (1.3098) or `group/uuid (index)`."""
        if self.era.name == "2015":
            return f"{inst.view.group}/{inst.view.index}"
        return inst.label

    def bind(self, manifest: dict[str, Any]) -> Plan:
        return bind(manifest, self)

    def find_instance(self, dep: Deployment, job: str, index_or_id: str) -> Instance:
        """An instance by index (or, from 2016, uuid), with the era's 400/404 answers."""
        if self.era.instance_uuid_paths:
            valid = index_or_id.isdigit() or UUID_RE.match(index_or_id) is not None
        else:
            valid = re.fullmatch(r"[+-]?\d+", index_or_id.strip()) is not None  # Ruby's Integer()
        if not valid:
            raise errors.invalid_instance_index(index_or_id, self.era.q, or_id=self.era.instance_uuid_paths)
        with self._lock:
            match = [i for i in dep.instances if i.view.group == job
                     and ((index_or_id.strip().lstrip("+").isdigit() and i.view.index == int(index_or_id))
                          or (self.era.instance_uuid_paths and i.view.id == index_or_id))]
        if not match:
            raise errors.instance_not_found(dep.name, job, index_or_id, self.era.q)
        return match[0]

    def cancel(self, task_id: int) -> bool:
        return self.task(task_id).request_cancel()
