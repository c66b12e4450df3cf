"""What a BOSH release version is made of: its jobs' and packages' fingerprints.

A release's name and version are labels anyone can choose when they run `bosh
create-release`; its fingerprints are not. Each job's and package's fingerprint is a digest
of its source (the bosh CLI computes it from the files, not from the version), so two
release versions with equal fingerprints were built from the same jobs and packages. The
gate `final-from-tested-dev` therefore compares fingerprints, read from the release itself:
a tarball's `release.MF`, or the director's `GET /releases/:name?version=V` (jobs and
packages with `fingerprint`, both in the 2015 and the 2016 directors) plus `GET /releases`
for the commit it was created from.

The shape kept in the ledger (`to_doc`) is the same for every source, so a fingerprint
recorded at a dev deploy can be compared with a final release on another director.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.releases import release_manifest
from promotion.candidate import is_final

NO_COMMIT = ("", "non-git", "empty")  # what the bosh CLI writes when it cannot name a commit


class ReleaseContentsError(ValueError):
    """A release's contents cannot be read; the message names the release and the source."""


@dataclass(frozen=True)
class ReleaseContents:
    name: str
    version: str
    jobs: Mapping[str, str] = field(default_factory=dict)  # job name -> fingerprint
    packages: Mapping[str, str] = field(default_factory=dict)  # package name -> fingerprint
    commit_hash: str = ""  # `git rev-parse --short HEAD` of the release directory when it was created
    uncommitted_changes: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def is_dev(self) -> bool:
        """A dev build (`1+dev.3`): what developers deploy to dev1/dev2 before a final is cut."""
        return not is_final(self.version)

    def same_contents(self, other: ReleaseContents) -> bool:
        """Same jobs and packages with the same fingerprints (names and versions aside)."""
        return dict(self.jobs) == dict(other.jobs) and dict(self.packages) == dict(other.packages)

    def matching(self, other: ReleaseContents) -> int:
        """How many jobs and packages the two have alike (to name the closest one)."""
        return (sum(1 for k, v in self.jobs.items() if other.jobs.get(k) == v)
                + sum(1 for k, v in self.packages.items() if other.packages.get(k) == v))

    def unfingerprinted(self) -> list[str]:
        """Jobs and packages without a fingerprint: nothing can be proven equal to them."""
        return ([f"job {k}" for k, v in sorted(self.jobs.items()) if not v]
                + [f"package {k}" for k, v in sorted(self.packages.items()) if not v])

    def differences(self, other: ReleaseContents, mine: str, theirs: str) -> list[str]:
        """One line per job or package whose fingerprint differs, naming both."""
        out = []
        for kind, a, b in (("job", self.jobs, other.jobs), ("package", self.packages, other.packages)):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"{kind} {key}: {mine} {a.get(key) or '(none)'}, {theirs} {b.get(key) or '(none)'}")
        return out

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "commit_hash": self.commit_hash,
                "uncommitted_changes": self.uncommitted_changes,
                "jobs": dict(sorted(self.jobs.items())), "packages": dict(sorted(self.packages.items()))}

    @classmethod
    def from_doc(cls, doc: Any) -> ReleaseContents:
        """From a ledger record; ReleaseContentsError when the record does not hold one."""
        if not isinstance(doc, Mapping) or not doc.get("name") or doc.get("version") is None:
            raise ReleaseContentsError(f"not a release's contents: {doc!r:.200}")
        jobs, packages = doc.get("jobs"), doc.get("packages")
        if not isinstance(jobs, Mapping) or not isinstance(packages, Mapping):
            raise ReleaseContentsError(f"release {doc['name']}/{doc['version']}: jobs and packages must be maps")
        return cls(str(doc["name"]), str(doc["version"]), {str(k): str(v) for k, v in jobs.items()},
                   {str(k): str(v) for k, v in packages.items()}, str(doc.get("commit_hash") or ""),
                   bool(doc.get("uncommitted_changes")))


def _fingerprints(entries: Any, what: str, where: str) -> dict[str, str]:
    if not isinstance(entries, list):
        raise ReleaseContentsError(f"{where}: {what} is not a list")
    out = {}
    for e in entries:
        if not isinstance(e, Mapping) or not e.get("name"):
            raise ReleaseContentsError(f"{where}: a {what[:-1]} without a name ({e!r:.100})")
        out[str(e["name"])] = str(e.get("fingerprint") or "")
    return out


def from_manifest(mf: Mapping[str, Any], where: str = "release.MF") -> ReleaseContents:
    """From a release.MF as `bosh create-release` writes it."""
    if not mf.get("name") or mf.get("version") is None:
        raise ReleaseContentsError(f"{where}: no name or version")
    return ReleaseContents(str(mf["name"]), str(mf["version"]), _fingerprints(mf.get("jobs") or [], "jobs", where),
                           _fingerprints(mf.get("packages") or [], "packages", where),
                           str(mf.get("commit_hash") or ""), bool(mf.get("uncommitted_changes")))


def from_tarball(path: str | Path) -> ReleaseContents:
    return from_manifest(release_manifest(path), str(path))


def from_director(director: Any, name: str, version: str) -> ReleaseContents:
    """From what a director keeps of `name/version`. A director's 404 (no such release or
    version) propagates with its `status`, so callers can tell "not there" from "cannot tell"."""
    detail = director.release(name, version)
    where = f"release {name}/{version} on director {director.uuid()}"
    listed = next((v for r in director.releases() if r.get("name") == name
                   for v in r.get("release_versions") or [] if str(v.get("version")) == str(version)), {})
    return ReleaseContents(name, str(version), _fingerprints(detail.get("jobs") or [], "jobs", where),
                           _fingerprints(detail.get("packages") or [], "packages", where),
                           str(listed.get("commit_hash") or ""), bool(listed.get("uncommitted_changes")))


def deployed_versions(director: Any, deployment: str) -> list[tuple[str, str]]:
    """The release versions a deployment runs, as the director resolved them (`latest`
    included): `GET /deployments` lists them in both eras."""
    for d in director.deployments():
        if d.get("name") == deployment:
            return [(str(r["name"]), str(r["version"])) for r in d.get("releases") or []]
    return []
