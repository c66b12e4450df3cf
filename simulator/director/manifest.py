"""Deployment manifests: parse (v1 jobs/resource_pools/networks, v2 instance_groups/stemcells)
and bind them into a `Plan`, validating them as a director does.

Problems a 2015-era director finds in the request itself (empty body, bad YAML, not a hash,
no name) are HTTP 400s; everything found while binding the plan (unknown release or version,
job missing from the release, missing stemcell, wrong director_uuid, duplicate names, static
IPs outside the network) fails the task, with the reason in the task result.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from simulator.director import errors
from simulator.world import JobTemplate

try:  # libyaml is much faster for the big CF manifest
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

IPv4 = ipaddress.IPv4Address


def parse_manifest_text(text: str | bytes) -> dict[str, Any]:
    """Parse the POSTed manifest; raise the 400 errors a director answers at request time."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text.strip():
        raise errors.bad_manifest("Manifest should not be empty")
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise errors.bad_manifest(f"Incorrect YAML structure of the uploaded manifest: {exc}")
    if not isinstance(doc, dict):
        raise errors.bad_manifest("Manifest should be a hash")
    if not doc.get("name"):
        raise errors.missing_field("Deployment manifest must have a 'name' key")
    return doc


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return over


# --------------------------------------------------------------------------------------
# Update settings


@dataclass(frozen=True)
class UpdateConfig:
    canaries: int | str
    max_in_flight: int | str
    serial: bool
    canary_watch_time: str
    update_watch_time: str

    @staticmethod
    def _count(value: int | str, n: int, minimum: int) -> int:
        if isinstance(value, str) and value.strip().endswith("%"):
            count = math.ceil(n * float(value.strip()[:-1]) / 100.0)
        else:
            count = int(value)
        return max(minimum, count)

    def canary_count(self, n: int) -> int:
        return min(n, self._count(self.canaries, n, 0))

    def in_flight(self, n: int) -> int:
        return self._count(self.max_in_flight, n, 1)

    def with_overrides(self, canaries: str | None, max_in_flight: str | None) -> UpdateConfig:
        return UpdateConfig(canaries if canaries is not None else self.canaries,
                            max_in_flight if max_in_flight is not None else self.max_in_flight,
                            self.serial, self.canary_watch_time, self.update_watch_time)


_UPDATE_KEYS = ("canaries", "max_in_flight", "canary_watch_time", "update_watch_time")


def _update(block: Any, parent: dict[str, Any] | None, where: str, default_serial: bool) -> tuple[UpdateConfig, dict]:
    merged = dict(parent or {})
    if block is not None and not isinstance(block, dict):
        raise errors.invalid_type(f"Property 'update' value ({block!r}) did not match the required type 'Hash'")
    merged.update(block or {})
    for key in _UPDATE_KEYS:
        if merged.get(key) is None:
            raise errors.missing_field(f"Required property '{key}' was not specified in object ({where})")
    serial = merged.get("serial", default_serial)
    return UpdateConfig(merged["canaries"], merged["max_in_flight"], bool(serial),
                        str(merged["canary_watch_time"]), str(merged["update_watch_time"])), merged


# --------------------------------------------------------------------------------------
# Networks


def _ip_set(entries: Any, where: str) -> set[IPv4]:
    """Addresses of `reserved`/`static` entries: "a.b.c.d", "a.b.c.d - e.f.g.h", lists of them."""
    if entries is None:
        return set()
    if isinstance(entries, str):
        entries = [entries]
    out: set[IPv4] = set()
    for entry in entries:
        text = str(entry)
        try:
            if "-" in text:
                lo, hi = (IPv4(p.strip()) for p in text.split("-", 1))
                out.update(IPv4(i) for i in range(int(lo), int(hi) + 1))
            else:
                out.add(IPv4(text.strip()))
        except ValueError:
            raise errors.invalid_type(f"Invalid IP or range '{text}' in {where}")
    return out


@dataclass
class Subnet:
    range: ipaddress.IPv4Network
    gateway: IPv4 | None
    reserved: set[IPv4]
    static: set[IPv4]
    az: str | None = None

    def dynamic_pool(self) -> list[IPv4]:
        excluded = self.reserved | self.static | ({self.gateway} if self.gateway else set())
        return [ip for ip in self.range.hosts() if ip not in excluded]


@dataclass
class NetworkPlan:
    name: str
    type: str
    subnets: list[Subnet]

    def is_static(self, ip: IPv4) -> bool:
        return any(ip in s.static for s in self.subnets)

    def dynamic_pool(self) -> list[IPv4]:
        return [ip for s in self.subnets for ip in s.dynamic_pool()]


# v2 manifests without a cloud config, and `type: dynamic` networks, get addresses from here
DEFAULT_DYNAMIC_RANGE = ipaddress.IPv4Network("10.244.192.0/20")


def _networks(raw: Any) -> dict[str, NetworkPlan]:
    out: dict[str, NetworkPlan] = {}
    for net in raw or []:
        name = net.get("name")
        if not name:
            raise errors.missing_field("Required property 'name' was not specified in object (networks)")
        ntype = net.get("type", "manual")
        subnets: list[Subnet] = []
        if ntype == "manual":
            for sn in net.get("subnets") or []:
                if not sn.get("range"):
                    raise errors.missing_field(
                        f"Required property 'range' was not specified in object (network '{name}' subnet)")
                try:
                    rng = ipaddress.IPv4Network(str(sn["range"]), strict=False)
                except ValueError:
                    raise errors.invalid_type(f"Invalid range '{sn['range']}' in network '{name}'")
                gw = IPv4(str(sn["gateway"])) if sn.get("gateway") else None
                subnets.append(Subnet(rng, gw, _ip_set(sn.get("reserved"), f"network '{name}' reserved"),
                                      _ip_set(sn.get("static"), f"network '{name}' static"),
                                      sn.get("az")))
        else:
            subnets.append(Subnet(DEFAULT_DYNAMIC_RANGE, None, set(), set()))
        out[name] = NetworkPlan(name, ntype, subnets)
    return out


# --------------------------------------------------------------------------------------
# The bound plan


@dataclass
class GroupPlan:
    name: str
    instances: int
    templates: list[JobTemplate]
    properties: dict[str, Any]
    networks: list[tuple[str, list[str]]]  # (network name, static IPs)
    update: UpdateConfig
    stemcell: tuple[str, str]
    lifecycle: str = "service"
    persistent_disk: Any = None
    vm_type: str = "default"
    azs: list[str] = field(default_factory=list)

    @property
    def is_errand(self) -> bool:
        return self.lifecycle == "errand"


@dataclass
class Plan:
    name: str
    releases: dict[str, str]  # name -> resolved version
    stemcells: list[tuple[str, str]]
    groups: list[GroupPlan]
    networks: dict[str, NetworkPlan]
    manifest: dict[str, Any]

    def group(self, name: str) -> GroupPlan | None:
        return next((g for g in self.groups if g.name == name), None)


class Catalogue(Protocol):
    """What binding needs from the director's release/stemcell store."""

    uuid: str

    def resolve_release(self, name: str, version: str) -> tuple[str, tuple[str, ...]]: ...

    def resolve_stemcell(self, name: str | None, os: str | None, version: str) -> tuple[str, str]: ...


def _templates(job: dict[str, Any], kind: str, releases: dict[str, str], jobs_of: dict[str, tuple[str, ...]],
               where: str) -> list[JobTemplate]:
    raw: Any
    if kind == "v2":
        raw = job.get("jobs")
        if raw is None:
            raise errors.missing_field(f"Required property 'jobs' was not specified in object ({where})")
    else:
        raw = job.get("templates", job.get("template"))
        if raw is None:
            raise errors.missing_field(f"Required property 'templates' was not specified in object ({where})")
    if isinstance(raw, str):
        raw = [raw]
    default_release = job.get("release") or (next(iter(releases)) if len(releases) == 1 else None)
    out: list[JobTemplate] = []
    for t in raw:
        tname, trelease = (t, default_release) if isinstance(t, str) else (t.get("name"), t.get("release", default_release))
        if not tname:
            raise errors.missing_field(f"Required property 'name' was not specified in object ({where} templates)")
        if not trelease:
            raise errors.deployment_invalid(f"{where} job '{tname}' must specify a release",
                                            errors.JOB_UNKNOWN_RELEASE)
        if trelease not in releases:
            raise errors.deployment_invalid(
                f"{where} references an unknown release '{trelease}' (job '{tname}')", errors.JOB_UNKNOWN_RELEASE)
        version = releases[trelease]
        if tname not in jobs_of[trelease]:
            raise errors.deployment_invalid(
                f"Job '{tname}' not found in release '{trelease}/{version}' ({where})", errors.JOB_MISSING_TEMPLATE)
        out.append(JobTemplate(tname, trelease, version))
    return out


def bind(manifest: dict[str, Any], store: Catalogue) -> Plan:
    """Resolve releases/stemcells and validate the manifest; raise `DirectorError` on the first problem."""
    name = str(manifest["name"])
    uuid = manifest.get("director_uuid")
    if uuid is not None and str(uuid) not in (store.uuid, "ignore"):
        raise errors.DirectorError(
            errors.DIRECTOR_UUID_MISMATCH,
            f"Deployment manifest director_uuid '{uuid}' doesn't match this director's UUID '{store.uuid}'", 400)

    raw_releases = manifest.get("releases")
    if not isinstance(raw_releases, list) or not raw_releases:
        raise errors.missing_field("Required property 'releases' was not specified in object (deployment)")
    releases: dict[str, str] = {}
    jobs_of: dict[str, tuple[str, ...]] = {}
    for rel in raw_releases:
        if not isinstance(rel, dict) or not rel.get("name") or rel.get("version") is None:
            raise errors.missing_field(f"Required property 'name'/'version' was not specified in release {rel!r}")
        rname = str(rel["name"])
        if rname in releases:
            raise errors.deployment_invalid(f"Duplicate release name '{rname}'", 40002)
        version, jobs = store.resolve_release(rname, str(rel["version"]))
        releases[rname], jobs_of[rname] = version, jobs

    is_v2 = "instance_groups" in manifest
    kind = "v2" if is_v2 else "v1"
    raw_groups = manifest.get("instance_groups" if is_v2 else "jobs")
    if raw_groups is None:
        raw_groups = []
    if not isinstance(raw_groups, list):
        raise errors.invalid_type("Property 'jobs' value did not match the required type 'Array'")
    global_update_raw = manifest.get("update")
    global_props = manifest.get("properties") or {}

    networks = _networks(manifest.get("networks"))
    stemcells: list[tuple[str, str]] = []
    pools: dict[str, tuple[tuple[str, str], str | None]] = {}  # v1 resource pool -> (stemcell, network)
    aliases: dict[str, tuple[str, str]] = {}
    if is_v2:
        for st in manifest.get("stemcells") or []:
            resolved = store.resolve_stemcell(st.get("name"), st.get("os"), str(st.get("version", "latest")))
            aliases[str(st.get("alias"))] = resolved
            stemcells.append(resolved)
        if not networks:
            networks = {"default": NetworkPlan("default", "manual",
                                               [Subnet(DEFAULT_DYNAMIC_RANGE, None, set(), set())])}
    else:
        raw_pools = manifest.get("resource_pools")
        if raw_pools is None:
            raise errors.missing_field("Required property 'resource_pools' was not specified in object (deployment)")
        if manifest.get("networks") is None:
            raise errors.missing_field("Required property 'networks' was not specified in object (deployment)")
        for rp in raw_pools:
            st = rp.get("stemcell") or {}
            if not st.get("name"):
                raise errors.missing_field(
                    f"Required property 'stemcell' was not specified in object (resource pool '{rp.get('name')}')")
            resolved = store.resolve_stemcell(st.get("name"), None, str(st.get("version", "latest")))
            pools[str(rp.get("name"))] = (resolved, rp.get("network"))
            if resolved not in stemcells:
                stemcells.append(resolved)

    groups: list[GroupPlan] = []
    seen: set[str] = set()
    label = "Instance group" if is_v2 else "Job"
    for job in raw_groups:
        if not isinstance(job, dict) or not job.get("name"):
            raise errors.missing_field(f"Required property 'name' was not specified in object ({kind} job)")
        gname = str(job["name"])
        where = f"{label.lower()} '{gname}'"
        if gname in seen:
            raise errors.deployment_invalid(f"Duplicate {label.lower()} name '{gname}'", errors.JOB_DUPLICATE_NAME)
        seen.add(gname)
        instances = job.get("instances")
        if not isinstance(instances, int) or instances < 0:
            raise errors.deployment_invalid(f"{label} '{gname}' has an invalid number of instances: {instances!r}",
                                            errors.JOB_INVALID_INSTANCES)
        templates = _templates(job, kind, releases, jobs_of, where)
        if is_v2:
            alias = str(job.get("stemcell"))
            if alias not in aliases:
                raise errors.deployment_invalid(f"{label} '{gname}' references an unknown stemcell alias '{alias}'",
                                                50003)
            stemcell = aliases[alias]
            vm_type = str(job.get("vm_type", "default"))
        else:
            pool = str(job.get("resource_pool"))
            if pool not in pools:
                raise errors.deployment_invalid(f"{label} '{gname}' references an unknown resource pool '{pool}'",
                                                errors.JOB_UNKNOWN_RESOURCE_POOL)
            stemcell = pools[pool][0]
            vm_type = pool
        update, _ = _update(job.get("update"), global_update_raw if isinstance(global_update_raw, dict) else None,
                            where, default_serial=True)
        props = deep_merge(global_props, job.get("properties") or {})
        if is_v2:
            for t in job.get("jobs") or []:
                if isinstance(t, dict) and isinstance(t.get("properties"), dict):
                    props = deep_merge(props, t["properties"])
        job_nets: list[tuple[str, list[str]]] = []
        raw_nets = job.get("networks")
        if raw_nets is None and is_v2 and "default" in networks:
            raw_nets = [{"name": "default"}]
        for net in raw_nets or []:
            nname = str(net.get("name"))
            if nname not in networks:
                raise errors.deployment_invalid(f"{label} '{gname}' references an unknown network '{nname}'",
                                                errors.JOB_UNKNOWN_NETWORK)
            static_ips = [str(ip) for ip in (net.get("static_ips") or [])]
            plan_net = networks[nname]
            for ip in static_ips:
                try:
                    addr = IPv4(ip)
                except ValueError:
                    raise errors.invalid_type(f"{label} '{gname}' has an invalid static IP '{ip}'")
                if not plan_net.is_static(addr):
                    raise errors.deployment_invalid(
                        f"{label} '{gname}' asks for a static IP '{ip}' which is not in the static ranges "
                        f"of network '{nname}'", errors.NETWORK_STATIC_IP_OUT_OF_RANGE)
            if static_ips and len(static_ips) != instances:
                raise errors.deployment_invalid(
                    f"{label} '{gname}' has {instances} instances but was allocated {len(static_ips)} static IPs "
                    f"in network '{nname}'", errors.JOB_NETWORK_INSTANCE_IP_MISMATCH)
            job_nets.append((nname, static_ips))
        if not job_nets and instances > 0:
            raise errors.deployment_invalid(f"{label} '{gname}' must specify at least one network",
                                            errors.JOB_UNKNOWN_NETWORK)
        groups.append(GroupPlan(
            name=gname, instances=instances, templates=templates, properties=props, networks=job_nets,
            update=update, stemcell=stemcell, lifecycle=str(job.get("lifecycle", "service")),
            persistent_disk=job.get("persistent_disk", job.get("persistent_disk_pool", job.get("persistent_disk_type"))),
            vm_type=vm_type, azs=[str(a) for a in job.get("azs") or []]))

    # a static IP may belong to one instance only
    owners: dict[tuple[str, str], str] = {}
    for g in groups:
        for nname, ips in g.networks:
            for ip in ips:
                if (nname, ip) in owners:
                    raise errors.deployment_invalid(
                        f"{label} '{g.name}' asks for static IP '{ip}' already claimed by '{owners[(nname, ip)]}'",
                        errors.NETWORK_IP_IN_USE)
                owners[(nname, ip)] = g.name
    return Plan(name, releases, stemcells, groups, networks, manifest)
