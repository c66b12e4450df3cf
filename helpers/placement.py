"""Placement: on which cell deployment, at which Diego version, does an app's instance run?

The stories stop and start cell deployments so that the smoke app lands on cells of the
intended version. This is how that is proved: the app's stats `host` (the cell address)
against the director's instance IPs of each cell deployment, and those deployments' Diego
release versions from `GET /deployments`. `placement` decides from the data (pure);
`placement_check` gathers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from helpers.checks import field_of
from helpers.preflight import deployed_versions
from helpers.verdicts import Verdict, verdict


def placement(step: str, app: str, hosts: Mapping[int, str | None], cells: Mapping[str, Iterable[str]],
              allowed: Iterable[str], versions: Mapping[str, str | None] | None = None,
              expected_versions: Mapping[str, str] | None = None) -> Verdict:
    """Every instance runs on a cell of an allowed deployment (stats `host` vs the director's
    instance IPs), and that deployment runs the expected Diego version."""
    allowed = list(allowed)
    ip_to_dep = {ip: dep for dep, ips in cells.items() for ip in ips}
    problems = []
    where: dict[int, str | None] = {}
    for index, host in sorted(hosts.items()):
        dep = ip_to_dep.get(host or "")
        where[index] = dep
        if dep is None:
            problems.append(f"instance {index} on {host}, which is no cell of {sorted(cells)}")
        elif dep not in allowed:
            problems.append(f"instance {index} on {host} in {dep} (expected {' or '.join(allowed)})")
        elif expected_versions and dep in expected_versions:
            seen = (versions or {}).get(dep)
            if seen != expected_versions[dep]:
                problems.append(f"instance {index} on {dep} running diego {seen} "
                                f"(expected {expected_versions[dep]})")
    if not hosts:
        problems.append("no instances in stats")
    if problems:
        return verdict(False, "placement", step, app, f"app {app}: " + "; ".join(problems),
                       hosts=dict(hosts), where=where, allowed=allowed)
    return verdict(True, "placement", step, app,
                   f"app {app}: instances on {sorted({d for d in where.values() if d})} as intended",
                   hosts=dict(hosts), where=where)


def cell_ips(director: Any, deployments: Iterable[str]) -> dict[str, list[str]]:
    """deployment -> IPs of its instances, from the director."""
    out: dict[str, list[str]] = {}
    for dep in deployments:
        ips: list[str] = []
        for inst in director.instances(dep):
            ips.extend(str(ip) for ip in (field_of(inst, "ips") or []))
        out[dep] = ips
    return out


def placement_check(cf: Any, director: Any, *, step: str, app: Any, cells: Iterable[str],
                    allowed: Iterable[str], expected_diego: Mapping[str, str] | None = None,
                    hosts: Mapping[int, str | None] | None = None) -> Verdict:
    """Where do `app`'s instances run? Stats `host` (or the given `hosts`) against the
    director's cell IPs and the deployments' Diego versions. Returns the verdict."""
    cells = list(cells)
    if hosts is None:
        hosts = {int(i): field_of(s, "host") for i, s in cf.stats(str(field_of(app, "guid"))).items()}
    ips = cell_ips(director, cells)
    versions = {dep: rel.get("diego") for dep, rel in deployed_versions(director).items()} if expected_diego else None
    name = str(field_of(app, "name") or field_of(app, "guid"))
    return placement(step, name, hosts, ips, allowed, versions, expected_diego)
