"""The release catalog: the releases, stemcell and version sets the simulator knows.

A real director knows a release's jobs because the release tarball lists them; the simulator
never sees real tarballs of cf/diego/garden-linux, so it takes the job lists from
`catalog.yml` (the facts of `../shared/docs/release-catalog.yml`) when it preloads them.
Manifests are then validated against what was uploaded, exactly as a director would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("catalog.yml")


@dataclass(frozen=True)
class ReleaseFacts:
    name: str
    version: str
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class StemcellFacts:
    name: str
    version: str
    operating_system: str


@dataclass(frozen=True)
class VersionSet:
    name: str
    releases: dict[str, str]  # release name -> version
    stemcell: tuple[str, str]  # (name, version)


@dataclass(frozen=True)
class Catalog:
    releases: dict[str, dict[str, ReleaseFacts]]  # name -> version -> facts
    stemcells: list[StemcellFacts]
    version_sets: dict[str, VersionSet]

    def release(self, name: str, version: str) -> ReleaseFacts:
        try:
            return self.releases[name][version]
        except KeyError:
            raise KeyError(f"release {name}/{version} is not in the simulator's catalog") from None

    def version_set(self, name: str) -> VersionSet:
        if name not in self.version_sets:
            raise KeyError(f"unknown version set {name!r}; known: {', '.join(sorted(self.version_sets))}")
        return self.version_sets[name]

    def stemcell(self, name: str, version: str) -> StemcellFacts:
        for s in self.stemcells:
            if s.name == name and s.version == version:
                return s
        raise KeyError(f"stemcell {name}/{version} is not in the simulator's catalog")

    def to_shared_format(self) -> dict[str, Any]:
        """The catalog in the layout of ../shared/docs/release-catalog.yml (for comparison)."""
        stem = self.stemcells[0]
        return {
            "releases": {name: {v: list(f.jobs) for v, f in versions.items()}
                         for name, versions in self.releases.items()},
            "stemcell": {"name": stem.name, "version": stem.version},
            "version_sets": {name: dict(vs.releases) for name, vs in self.version_sets.items()},
        }


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    data = yaml.safe_load(path.read_text())
    releases = {
        name: {str(v): ReleaseFacts(name, str(v), tuple(spec["jobs"])) for v, spec in body["versions"].items()}
        for name, body in data["releases"].items()
    }
    stemcells = [StemcellFacts(s["name"], str(s["version"]), s.get("operating_system", "ubuntu-trusty"))
                 for s in data["stemcells"]]
    sets = {
        name: VersionSet(name, {r: str(v) for r, v in body["releases"].items()},
                         (body["stemcell"]["name"], str(body["stemcell"]["version"])))
        for name, body in data["version_sets"].items()
    }
    return Catalog(releases, stemcells, sets)
