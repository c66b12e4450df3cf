"""A small in-process director for flow tests: it keeps manifests, hands out IPs and drives
the simulator's real `redis` job through a world bus, so checks run against real servers.
The embedded simulator's own director is exercised by suites/redis_promotion."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fixtures.redis import REDIS_SOURCES, redis_release_mf
from helpers.releases import release_manifest
from simulator.jobs import redis as redis_job
from simulator.server import reserve_loopback_network
from simulator.world import PROFILES, AddressMap, InstanceView, JobTemplate, World


@dataclass
class FakeTask:
    id: int


class FakeTaskError(Exception):
    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id} failed (injected)")


class FakeNotFound(Exception):
    """What helpers.bosh raises for a 404 (BoshApiError carries `.status`)."""

    status = 404


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


class FakeDirector:
    def __init__(self, state_dir: Path) -> None:
        # a loopback /16 reserved like the simulator does, so parallel runs never collide
        self._reservation = reserve_loopback_network()
        self.world = World(profile=PROFILES["fast"], state_dir=state_dir,
                           addresses=AddressMap(loopback_network=self._reservation.network))
        self.redis = redis_job.attach(self.world)
        self.manifests: dict[str, str] = {}
        self.instances_by_dep: dict[str, list[InstanceView]] = {}
        self._ids = itertools.count(1)
        self.task_table: dict[int, dict[str, Any]] = {}  # GET /tasks/:id as the 2015 director answers
        self.fail_next = 0
        self.deploy_log: list[tuple[str, str]] = []  # (deployment, redis release version)
        # release.MF of every uploaded release version: the fixture's redis releases to begin with
        self.release_mfs: dict[tuple[str, str], dict[str, Any]] = {
            ("redis", v): redis_release_mf(v) for v in REDIS_SOURCES}
        self.deployed_releases: dict[str, list[tuple[str, str]]] = {}
        self.director_uuid = "fake-director-uuid"

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        return self.world.addresses.to_loopback(host), port

    def uuid(self) -> str:
        return self.director_uuid

    # ------------------------------------------------------------------ releases, as the 2015 director shows them

    def upload_release(self, path: Path) -> FakeTask:
        """Like a 2015 director: the same release again adds nothing; another one under a
        name and version it has (another commit, job or package fingerprint) fails."""
        task = self._new_task("create release")
        mf = release_manifest(path)
        key = (str(mf["name"]), str(mf["version"]))
        old = self.release_mfs.setdefault(key, mf)

        def contents(m: dict[str, Any]) -> tuple:
            return (m.get("commit_hash"), sorted((j["name"], j["fingerprint"]) for j in m["jobs"]),
                    sorted((p["name"], p["fingerprint"]) for p in m.get("packages") or []))

        if contents(old) != contents(mf):
            self._end_task(task, "error", f"release `{key[0]}/{key[1]}' has already been uploaded otherwise")
            raise FakeTaskError(task)
        self._end_task(task, "done", f"Created release `{mf['name']}/{mf['version']}'")
        return FakeTask(task)

    def release(self, name: str, version: str) -> dict[str, Any]:
        mf = self.release_mfs.get((name, version))
        if mf is None:
            raise FakeNotFound(f"Release version `{name}/{version}' doesn't exist")
        return {"jobs": [{k: j[k] for k in ("name", "sha1", "fingerprint")} for j in mf["jobs"]],
                "packages": [{k: p[k] for k in ("name", "sha1", "fingerprint")} for p in mf["packages"]]}

    def releases(self) -> list[dict[str, Any]]:
        names = sorted({n for n, _ in self.release_mfs})
        return [{"name": n, "release_versions": [
            {"version": v, "commit_hash": mf.get("commit_hash"), "uncommitted_changes": mf.get("uncommitted_changes")}
            for (rn, v), mf in self.release_mfs.items() if rn == n]} for n in names]

    def deployments(self) -> list[dict[str, Any]]:
        return [{"name": n, "releases": [{"name": r, "version": v} for r, v in rels]}
                for n, rels in sorted(self.deployed_releases.items())]

    def _new_task(self, description: str) -> int:
        task_id = next(self._ids)
        self.task_table[task_id] = {"id": task_id, "state": "processing", "description": description,
                                    "timestamp": 1_700_000_000 + task_id, "result": None, "user": "admin"}
        return task_id

    def _end_task(self, task_id: int, state: str, result: str) -> None:
        self.task_table[task_id].update(state=state, result=result, timestamp=1_700_000_000 + 10 * task_id)

    def task(self, task_id: int) -> dict[str, Any]:
        if task_id not in self.task_table:
            raise FakeNotFound(f"task {task_id} not found")
        return dict(self.task_table[task_id])

    def tasks(self, limit: int = 100, verbose: int = 2) -> list[dict[str, Any]]:
        return [dict(t) for t in sorted(self.task_table.values(), key=lambda t: -t["id"])][:limit]

    def locks(self) -> list[dict[str, Any]]:
        return []

    def deployment_manifest(self, name: str) -> str:
        if name not in self.manifests:
            raise FakeNotFound(f"deployment {name} not found")
        return self.manifests[name]

    def instances_full(self, name: str) -> list[dict[str, Any]]:
        """`vms?format=full` rows as the 2015 director writes them (job_name, index, ips, job_state)."""
        return [{"job_name": i.group, "index": i.index, "ips": i.ips, "job_state": "running"}
                for i in self.instances_by_dep.get(name, [])]

    def deploy(self, manifest_yaml: str) -> FakeTask:
        task = self._new_task("create deployment")
        if self.fail_next:
            self.fail_next -= 1
            self._end_task(task, "error", "injected failure")
            raise FakeTaskError(task)
        m = yaml.safe_load(manifest_yaml)
        name = m["name"]
        for old in self.instances_by_dep.pop(name, []):
            self.world.bus.emit("stopped", old)
        subnet = m["networks"][0]["subnets"][0]
        dynamic = (str(ip) for ip in list(ipaddress.IPv4Network(subnet["range"]).hosts())[9:])
        versions = {r["name"]: str(r["version"]) for r in m["releases"]}
        missing = [f"{n}/{v}" for n, v in versions.items() if (n, v) not in self.release_mfs]
        if missing:
            self._end_task(task, "error", f"Release version `{missing[0]}' doesn't exist")
            raise FakeTaskError(task)
        new = []
        for job in m["jobs"]:
            if job.get("lifecycle") == "errand":
                continue
            statics = job["networks"][0].get("static_ips") or []
            for index in range(job["instances"]):
                ip = statics[index] if index < len(statics) else next(dynamic)
                props = _deep_merge(m.get("properties") or {}, job.get("properties") or {})
                new.append(InstanceView(
                    deployment=name, group=job["name"], index=index, id=f"{name}-{job['name']}-{index}",
                    ips=[ip], templates=[JobTemplate(t["name"], t["release"], versions[t["release"]])
                                         for t in job["templates"]],
                    properties=props))
        for inst in new:
            self.world.bus.emit("started", inst)
        self.instances_by_dep[name] = new
        self.manifests[name] = manifest_yaml
        self.deployed_releases[name] = sorted(versions.items())
        self.deploy_log.append((name, versions.get("redis", "")))
        self._end_task(task, "done", f"/deployments/{name}")
        return FakeTask(task)

    def delete_deployment(self, name: str) -> FakeTask:
        task = self._new_task(f"delete deployment {name}")
        for old in self.instances_by_dep.pop(name, []):
            self.world.bus.emit("deleted", old)
        self.manifests.pop(name, None)
        self.deployed_releases.pop(name, None)
        self.deploy_log.append((name, "deleted"))
        self._end_task(task, "done", f"/deployments/{name}")
        return FakeTask(task)

    def stop_instance(self, name: str, job: str) -> None:
        """Stop one instance's processes but keep it in the director's list (a VM whose job
        died): what the replication check must notice."""
        inst = next(i for i in self.instances_by_dep[name] if i.group == job)
        self.world.bus.emit("stopped", inst)

    def close(self) -> None:
        self.redis.close()
        self._reservation.close()
