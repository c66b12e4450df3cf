"""The two manifest sets an upgrade run deploys (V0 and V-prime), in the story's words.

`helpers.story` speaks of CF and D1..D4 at V0 or V-prime; the manifests layer writes pieces
(`cf.yml`, `database.yml`, `brain-and-pals.yml`, `cell1.yml`, `cell2.yml`) of version sets
(`v0`, `v_prime`). This module is the one place where one is mapped onto the other, so the
suite, its reports and its failure messages never see a piece name.

Dependencies go one way: manifests use helpers (the story, the director client), helpers
never import manifests; the suite's fixtures hand a `ManifestSets` to the driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.net import pem_certificates
from helpers.story import CF, D1, D2, D3, D4, DEPLOYMENTS, V0, V_PRIME, VERSIONS
from manifests.generate import generate as generate_pieces
from manifests.generate import write_domain_stub

PIECE: dict[str, str] = {CF: "cf", D1: "database", D2: "brain-and-pals", D3: "cell1", D4: "cell2"}
VERSION_SET: dict[str, str] = {V0: "v0", V_PRIME: "v_prime"}  # also the config's keys (upgrade.versions.v0)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ManifestSets:
    """Paths of the ten manifests, by story version and deployment; parsed once each."""

    paths: Mapping[str, Mapping[str, Path]]  # V0 | V-prime -> CF | D1.. -> path
    _parsed: dict[Path, Any] = field(default_factory=dict, repr=False)

    def path(self, deployment: str, version: str) -> Path:
        return Path(self.paths[version][deployment])

    def text(self, deployment: str, version: str) -> str:
        return self.path(deployment, version).read_text()

    def doc(self, deployment: str, version: str) -> Any:
        path = self.path(deployment, version)
        if path not in self._parsed:
            self._parsed[path] = yaml.load(path.read_text(), Loader=_LOADER)
        return self._parsed[path]

    def name(self, deployment: str) -> str:
        """The BOSH deployment name (the V0 manifest's `name`; V-prime keeps it)."""
        return str(self.doc(deployment, V0)["name"])

    def names(self) -> dict[str, str]:
        return {d: self.name(d) for d in DEPLOYMENTS}

    def releases(self, deployment: str, version: str) -> dict[str, str]:
        """release name -> version pinned by that manifest."""
        return {str(r["name"]): str(r["version"]) for r in self.doc(deployment, version).get("releases") or []}

    def stemcells(self, deployment: str, version: str) -> set[tuple[str, str]]:
        doc = self.doc(deployment, version)
        out = set()
        for pool in doc.get("resource_pools") or []:
            sc = pool.get("stemcell") or {}
            if sc.get("name"):
                out.add((str(sc["name"]), str(sc.get("version", "latest"))))
        for sc in doc.get("stemcells") or []:
            if sc.get("name") or sc.get("os"):
                out.add((str(sc.get("name") or sc.get("os")), str(sc.get("version", "latest"))))
        return out

    def required(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(releases, stemcells) that every manifest of both sets needs on the director."""
        releases: set[tuple[str, str]] = set()
        stemcells: set[tuple[str, str]] = set()
        for version in VERSIONS:
            for d in DEPLOYMENTS:
                releases |= set(self.releases(d, version).items())
                stemcells |= self.stemcells(d, version)
        return releases, stemcells

    def haproxy_certificates(self) -> list[str]:
        """The HAProxy certificates of the CF manifests of both sets (`haproxy_certificates`)."""
        return haproxy_certificates(self.path(CF, v) for v in VERSIONS)

    def digest(self, deployment: str, version: str) -> str:
        """sha256 of the manifest text: what the run state records, so a resumed run can tell
        that it deploys the very manifests the first invocation deployed."""
        return hashlib.sha256(self.path(deployment, version).read_bytes()).hexdigest()


def haproxy_certificates(cf_manifests: Iterable[Path]) -> list[str]:
    """The certificates (never the key) of `ha_proxy.ssl_pem` in these CF manifests, global or
    job-level: what the suite trusts for CF once it deploys them, so that TLS verification
    stays on with no user setting (docs/manifests.md, "The HAProxy certificate")."""
    found: list[str] = []
    for path in cf_manifests:
        doc = yaml.load(Path(path).read_text(), Loader=_LOADER) or {}
        for props in [doc.get("properties") or {}, *((job or {}).get("properties") or {}
                                                      for job in doc.get("jobs") or [])]:
            pem = (props.get("ha_proxy") or {}).get("ssl_pem") if isinstance(props, Mapping) else None
            if isinstance(pem, str):
                found.extend(c for c in pem_certificates(pem) if c not in found)
    return found


def prepare(config: Any, director_uuid: str, out_dir: Path,
            generate: Callable[..., dict[str, Path]] = generate_pieces) -> ManifestSets:
    """V0 and V-prime for this director: directories named by the config
    (`upgrade.manifests.v0`), else generated into `out_dir/<set>/` with one shared secrets
    file, the config's CF domain and its CF admin credentials (so the deployed CF is the one
    the suite talks to, and its UAA accepts exactly the credentials the suite uses)."""
    up = config.upgrade
    out_dir = Path(out_dir)
    stubs = tuple(up.stubs)
    domain = config.cf.system_domain or config.cf.apps_domain
    if domain:
        stubs = (str(write_domain_stub(domain, out_dir)), *stubs)
    paths: dict[str, dict[str, Path]] = {}
    for version, key in VERSION_SET.items():
        given = (up.manifests or {}).get(key)
        if given:
            pieces = {piece: Path(given) / f"{piece}.yml" for piece in PIECE.values()}
        else:
            pieces = generate(up.versions.get(key, key), target="bosh-lite", director_uuid=director_uuid,
                              out=out_dir / key, stubs=stubs, prefix=up.deployment_prefix,
                              secrets_file=out_dir / "secrets.yml", cf_admin_user=config.cf.admin_user,
                              cf_admin_password=config.cf.admin_password)
        paths[version] = {d: Path(pieces[PIECE[d]]) for d in DEPLOYMENTS}
    return ManifestSets(paths)
