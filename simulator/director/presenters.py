"""The JSON the director answers, shaped as the director of the era answers it.

Each function takes the `DirectorEra` and plain model objects and returns what goes on the
wire; sources per shape are in docs/architecture.md (Era: BOSH director). The 2015 shapes are
bosh 1.3098.0's; the current ones bosh v283's.
"""

from __future__ import annotations

import hashlib
import time
import uuid as uuidlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from simulator.director.era import DirectorEra

if TYPE_CHECKING:
    from simulator.director.releases import ReleaseVersion
    from simulator.director.state import Deployment, Instance, Stemcell


def info(era: DirectorEra, uuid: str, user: str | None, auth_mode: str, public_url: str) -> dict[str, Any]:
    uaa_options: dict[str, Any] = {"url": public_url}
    if era.name != "2015":  # `urls` came later (uaa_identity_provider.rb client_info)
        uaa_options["urls"] = [public_url]
    auth = {"type": "uaa", "options": uaa_options} if auth_mode == "uaa" else {"type": "basic", "options": {}}
    out: dict[str, Any] = {"name": "Bosh Lite Director", "uuid": uuid, "version": era.version, "user": user or None,
                           "cpi": "warden_cpi"}
    if era.name == "2015":
        out["user_authentication"] = auth
        out["features"] = {"dns": {"status": False, "extras": {"domain_name": "bosh"}},
                           "compiled_package_cache": {"status": False, "extras": {"provider": None}},
                           "snapshots": {"status": False}}
        return out
    # no director VM here: the files a real director reads its stemcell from are absent -> "-"
    out.update({"stemcell_os": "-", "stemcell_version": "-", "user_authentication": auth,
                "features": {"local_dns": {"status": False, "extras": {"domain_name": "bosh"}},
                             "snapshots": {"status": False},
                             "config_server": {"status": False, "extras": {"urls": []}}}})
    return out


def deployments(era: DirectorEra, deps: Iterable[Deployment], locked: set[str]) -> list[dict[str, Any]]:
    out = []
    for d in sorted(deps, key=lambda d: d.name):
        entry: dict[str, Any] = {"name": d.name}
        if era.name != "2015":
            entry["teams"] = []
        entry["releases"] = [{"name": n, "version": v} for n, v in sorted(d.plan.releases.items())]
        entry["stemcells"] = [{"name": n, "version": v} for n, v in d.plan.stemcells]
        entry["cloud_config"] = "none"
        if era.name != "2015":
            entry["locked"] = d.name in locked
        out.append(entry)
    return out


def vms(era: DirectorEra, instances: Iterable[Instance]) -> list[dict[str, Any]]:
    """`GET /deployments/:d/vms` (no format): one entry per VM."""
    rows = []
    for inst in instances:
        if inst.vm_cid is None:
            continue
        v = inst.view
        if era.name == "2015":
            rows.append({"agent_id": inst.agent_id, "cid": inst.vm_cid, "job": v.group, "index": v.index})
        else:
            rows.append({"agent_id": inst.agent_id, "cid": inst.vm_cid, "job": v.group, "index": v.index, "id": v.id,
                         "az": inst.az, "ips": list(v.ips), "vm_created_at": inst.vm_created_at, "active": True,
                         "permanent_nats_credentials": False})
    return rows


def instances(instances: Iterable[Instance], errands: set[str]) -> list[dict[str, Any]]:
    """`GET /deployments/:d/instances` (2016 on). A director expects a VM for a service
    instance that is started or stopped, not for a detached one nor an errand's."""
    out = []
    for inst in instances:
        v = inst.view
        out.append({"agent_id": inst.agent_id, "cid": inst.vm_cid, "job": v.group, "index": v.index, "id": v.id,
                    "az": inst.az, "ips": list(v.ips), "vm_created_at": inst.vm_created_at,
                    "expects_vm": v.group not in errands and v.state in ("started", "stopped")})
    return out


def _vitals(era: DirectorEra, uptime: int) -> dict[str, Any]:
    vitals: dict[str, Any] = {"cpu": {"sys": "0.3", "user": "1.2", "wait": "0.0"},
                              "mem": {"kb": "123456", "percent": "12"}, "swap": {"kb": "0", "percent": "0"},
                              "load": ["0.01", "0.02", "0.00"],
                              "disk": {"system": {"percent": "40", "inode_percent": "20"},
                                       "ephemeral": {"percent": "1", "inode_percent": "0"}}}
    if era.name != "2015":
        vitals["uptime"] = {"secs": uptime}
    return vitals


def vm_state(era: DirectorEra, inst: Instance) -> dict[str, Any]:
    """One NDJSON line of `vms?format=full` / `instances?format=full` (types as the Go CLI
    expects: vitals are strings, process numbers are numbers)."""
    v = inst.view
    has_vm = inst.vm_cid is not None
    uptime = int(time.monotonic() - inst.running_since)
    proc_state = {"running": "running", "failing": "failing"}.get(v.job_state, "stopped") if has_vm else None
    processes = [{"name": t.name, "state": proc_state, "uptime": {"secs": uptime},
                  "mem": {"kb": 2048, "percent": 0.1}, "cpu": {"total": 0.5}} for t in v.templates] if has_vm else []
    if era.name == "2015":
        return {"vm_cid": inst.vm_cid, "disk_cid": None, "ips": list(v.ips), "dns": [], "agent_id": inst.agent_id,
                "job_name": v.group, "index": v.index, "job_state": v.job_state, "resource_pool": inst.vm_type,
                "vitals": _vitals(era, uptime), "processes": processes, "resurrection_paused": False}
    return {
        "vm_cid": inst.vm_cid, "active": has_vm, "vm_created_at": inst.vm_created_at or "",
        "cloud_properties": {}, "disk_cid": None, "disk_cids": [], "ips": list(v.ips), "dns": [],
        "agent_id": inst.agent_id, "job_name": v.group, "index": v.index,
        "job_state": v.job_state if has_vm else None, "state": v.state,
        "resource_pool": inst.vm_type, "vm_type": inst.vm_type,
        "vitals": _vitals(era, uptime) if has_vm else {}, "processes": processes,
        "resurrection_paused": False, "az": inst.az, "id": v.id, "bootstrap": inst.bootstrap,
        "ignore": False,
        "stemcell": {"name": inst.stemcell[0], "version": inst.stemcell[1], "api_version": 2},
    }


def locks(era: DirectorEra, holders: Iterable[tuple[str, int]], timeout: float) -> list[dict[str, Any]]:
    """`GET /locks`: (deployment, holding task id) pairs. 1.3098 read them from redis keys
    `lock:deployment:<name>` and had no task id."""
    out = []
    for name, task_id in holders:
        entry: dict[str, Any] = {"type": "deployment", "resource": [name], "timeout": f"{time.time() + timeout:.6f}"}
        if era.name != "2015":
            entry["task_id"] = str(task_id)
        out.append(entry)
    return out


def stemcells(era: DirectorEra, cells: Iterable[Stemcell], deployed: dict[tuple[str, str], list[str]]
              ) -> list[dict[str, Any]]:
    out = []
    for s in sorted(cells, key=lambda s: s.name):
        entry: dict[str, Any] = {"name": s.name, "operating_system": s.operating_system, "version": s.version,
                                 "cid": s.cid}
        if era.name != "2015":
            entry.update({"cpi": "", "api_version": 2, "id": s.id})
        entry["deployments"] = [{"name": n} for n in deployed.get((s.name, s.version), [])]
        out.append(entry)
    return out


def releases(versions_by_name: dict[str, list[ReleaseVersion]], deployed: set[tuple[str, str]]
             ) -> list[dict[str, Any]]:
    """`GET /releases` (same shape in both eras): versions in version order."""
    return [{"name": name, "release_versions": [
        {"version": rv.version, "commit_hash": rv.commit_hash, "uncommitted_changes": rv.uncommitted_changes,
         "currently_deployed": (name, rv.version) in deployed, "job_names": list(rv.jobs)} for rv in versions]}
        for name, versions in sorted(versions_by_name.items())]


def release(versions: list[ReleaseVersion]) -> dict[str, Any]:
    """`GET /releases/:name`: every package and job of every version of the release, and
    the versions (release.packages / release.templates: one entry per distinct version)."""
    packages: dict[tuple[str, str], dict[str, Any]] = {}
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for rv in versions:
        for p in rv.packages:
            packages.setdefault((p.name, p.version), {"name": p.name, "sha1": p.sha1, "version": p.version,
                                                      "dependencies": list(p.dependencies)})
        for j in rv.job_details:
            jobs.setdefault((j.name, j.version), {"name": j.name, "sha1": j.sha1, "version": j.version,
                                                  "packages": list(j.packages)})
    return {"packages": list(packages.values()), "jobs": list(jobs.values()),
            "versions": [rv.version for rv in versions]}


def release_version(era: DirectorEra, rv: ReleaseVersion, compiled_for: dict[str, list[tuple[str, str, str]]]
                    ) -> dict[str, Any]:
    """`GET /releases/:name?version=V` (inspect-release): jobs and packages with their
    fingerprints, sha1s and blobstore ids; a package's compiled builds per stemcell
    (`compiled_for`: package name -> [(stemcell name, os, version)])."""
    jobs = []
    for j in sorted(rv.job_details, key=lambda j: j.name):
        entry: dict[str, Any] = {"name": j.name, "blobstore_id": j.blobstore_id, "sha1": j.sha1,
                                 "fingerprint": j.fingerprint}
        if era.name != "2015":
            entry.update({"consumes": j.consumes, "provides": j.provides})
        jobs.append(entry)
    packages = []
    for p in sorted(rv.packages, key=lambda p: p.name):
        compiled = []
        for name, os_name, version in sorted(compiled_for.get(p.name, [])):
            key = f"{p.fingerprint}/{name}/{version}"
            compiled.append({"stemcell": f"{name}/{version}" if era.name == "2015" else f"{os_name}/{version}",
                             "sha1": hashlib.sha1(key.encode()).hexdigest(),
                             "blobstore_id": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, key))})
        packages.append({"name": p.name, "blobstore_id": p.blobstore_id, "sha1": p.sha1,
                         "fingerprint": p.fingerprint, "compiled_packages": compiled})
    return {"jobs": jobs, "packages": packages}


def ssh_result(era: DirectorEra, inst: Instance, agent_result: dict[str, Any]) -> dict[str, Any]:
    """One entry of the ssh task's result: the agent's answer plus what the director adds
    (1.3098: the index; today: id, index and job)."""
    out = dict(agent_result)
    out["index"] = inst.view.index
    if era.name != "2015":
        out["id"] = inst.view.id
        out["job"] = inst.view.group
    return out
