"""Before anything is deployed: the director answers and accepts us, every release and
stemcell both manifest sets name is uploaded, and none of our deployments exists yet (the
suite never deletes or changes a deployment it did not create). Every problem is reported
at once; nothing is touched. Also the check that deployments run the versions they pin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from helpers.verdicts import CheckFailed, Verdict, verdict


def deployment_versions(step: str, deployment: str, expected: Mapping[str, str],
                        seen: Mapping[str, str]) -> Verdict:
    """The deployment runs exactly the pinned version of each release it is expected to use."""
    wrong = {r: (v, seen.get(r)) for r, v in expected.items() if seen.get(r) != v}
    if wrong:
        msg = ", ".join(f"{r}: expected {v}, saw {s or 'absent'}" for r, (v, s) in sorted(wrong.items()))
        return verdict(False, "versions", step, deployment, f"deployment {deployment}: {msg}",
                  expected=dict(expected), seen=dict(seen))
    return verdict(True, "versions", step, deployment,
              f"deployment {deployment} runs " + ", ".join(f"{r} {v}" for r, v in sorted(expected.items())))


def missing_uploads(step: str, required_releases: Iterable[tuple[str, str]],
                    uploaded_releases: Iterable[tuple[str, str]],
                    required_stemcells: Iterable[tuple[str, str]] = (),
                    uploaded_stemcells: Iterable[tuple[str, str]] = ()) -> Verdict:
    """Every (release, version) and stemcell named by the manifests is on the director.
    A stemcell version `latest` is satisfied by any uploaded version of that name."""
    have = set(uploaded_releases)
    missing = sorted(set(required_releases) - have)
    stem_have = set(uploaded_stemcells)
    stem_missing = sorted((n, v) for n, v in set(required_stemcells)
                          if ((n, v) not in stem_have) and not (v == "latest" and any(s == n for s, _ in stem_have)))
    if missing or stem_missing:
        parts = [f"release {n}/{v}" for n, v in missing] + [f"stemcell {n}/{v}" for n, v in stem_missing]
        return verdict(False, "uploads", step, "director",
                  "missing on the director (upload them first): " + ", ".join(parts),
                  missing_releases=missing, missing_stemcells=stem_missing)
    return verdict(True, "uploads", step, "director", "every required release and stemcell is uploaded")


def no_existing_deployments(step: str, ours: Iterable[str], existing: Iterable[str]) -> Verdict:
    """None of our deployment names exists yet (the suite never touches what it did not create)."""
    clash = sorted(set(ours) & set(existing))
    if clash:
        return verdict(False, "no existing deployments", step, "director",
                  f"deployment(s) {', '.join(clash)} already exist on the director; the suite never deletes or "
                  "changes a deployment it did not create: delete them yourself or use another "
                  "upgrade.deployment_prefix", existing=clash)
    return verdict(True, "no existing deployments", step, "director", "none of our deployments exists yet")


def deployed_versions(director: Any) -> dict[str, dict[str, str]]:
    """deployment -> release -> version, from `GET /deployments`."""
    out: dict[str, dict[str, str]] = {}
    for dep in director.deployments():
        name = str(dep.get("name") if isinstance(dep, Mapping) else getattr(dep, "name", ""))
        releases = (dep.get("releases") if isinstance(dep, Mapping) else getattr(dep, "releases", None)) or []
        out[name] = {str(r["name"]): str(r["version"]) for r in releases}
    return out


def preflight(director: Any, *, names: Iterable[str], required_releases: Iterable[tuple[str, str]],
              required_stemcells: Iterable[tuple[str, str]], ours: Iterable[str] = (),
              step: str = "preflight") -> list[Verdict]:
    """The director accepts us; uploads present; none of `names` exists unless this run owns it
    (`ours`: e.g. the smoke suite deployed V0 earlier in the same session). Raises CheckFailed
    naming every problem; returns the passing verdicts."""
    director.info()
    if not director.authenticated_user():
        raise CheckFailed(verdict(False, "authenticated", step, "director",
                                  "the director did not accept the configured credentials (no authenticated user)"))
    uploaded = {(str(r["name"]), str(v["version"])) for r in director.releases()
                for v in r.get("release_versions") or []}
    stems = {(str(s["name"]), str(s["version"])) for s in director.stemcells()}
    verdicts = [missing_uploads(step, required_releases, uploaded, required_stemcells, stems),
                no_existing_deployments(step, names, set(director.deployment_names()) - set(ours))]
    failed = [v for v in verdicts if not v.ok]
    if len(failed) == 1:
        raise CheckFailed(failed[0])
    if failed:  # every problem at once: missing uploads *and* existing deployments
        raise CheckFailed(Verdict(False, "preflight", step, "director",
                                  "\n".join(f"{v.check}: {v.message}" for v in failed)), failed)
    return verdicts
