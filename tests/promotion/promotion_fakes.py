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
        self.tasks = itertools.count(1)
        self.fail_next = 0
        self.deploy_log: list[tuple[str, str]] = []  # (deployment, redis release version)

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        return self.world.addresses.to_loopback(host), port

    def uuid(self) -> str:
        return "fake-director-uuid"

    def deployment_manifest(self, name: str) -> str:
        return self.manifests.get(name, "")

    def instances(self, name: str) -> list[dict[str, Any]]:
        return [{"job": i.group, "index": i.index, "id": i.id, "ips": i.ips} for i in self.instances_by_dep.get(name, [])]

    def deploy(self, manifest_yaml: str) -> FakeTask:
        task = next(self.tasks)
        if self.fail_next:
            self.fail_next -= 1
            raise FakeTaskError(task)
        m = yaml.safe_load(manifest_yaml)
        name = m["name"]
        for old in self.instances_by_dep.pop(name, []):
            self.world.bus.emit("stopped", old)
        subnet = m["networks"][0]["subnets"][0]
        dynamic = (str(ip) for ip in list(ipaddress.IPv4Network(subnet["range"]).hosts())[9:])
        versions = {r["name"]: str(r["version"]) for r in m["releases"]}
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
        self.deploy_log.append((name, versions.get("redis", "")))
        return FakeTask(task)

    def delete_deployment(self, name: str) -> FakeTask:
        task = next(self.tasks)
        for old in self.instances_by_dep.pop(name, []):
            self.world.bus.emit("deleted", old)
        self.manifests.pop(name, None)
        self.deploy_log.append((name, "deleted"))
        return FakeTask(task)

    def stop_instance(self, name: str, job: str) -> None:
        """Stop one instance's processes but keep it in the director's list (a VM whose job
        died): what the replication check must notice."""
        inst = next(i for i in self.instances_by_dep[name] if i.group == job)
        self.world.bus.emit("stopped", inst)

    def close(self) -> None:
        self.redis.close()
        self._reservation.close()
