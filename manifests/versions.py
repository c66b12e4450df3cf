"""Version sets: which exact release and stemcell versions a set of manifests pins.

Manifests never say `latest`: a director resolves that to the highest uploaded version,
which after uploading V-prime would silently turn a V0 redeploy into an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

VERSIONS_DIR = Path(__file__).resolve().parent / "versions"
REQUIRED_RELEASES = ("cf", "diego", "garden-linux")
OPTIONAL_RELEASES = ("etcd",)
DEFAULT_STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "2776"}


class VersionSetError(Exception):
    """A version set that cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class VersionSet:
    """Exact versions of the releases (name -> version string) and of the stemcell."""

    name: str
    releases: dict[str, str]
    stemcell: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STEMCELL))

    @property
    def uses_etcd_release(self) -> bool:
        """From diego 0.1435.0 on, etcd comes from etcd-release instead of diego."""
        return "etcd" in self.releases

    @property
    def cf_era(self) -> str:
        """'231' for cf-release v231 and later (buildpack jobs, blobstore), else '220'."""
        try:
            return "231" if int(self.releases["cf"].split(".")[0]) >= 231 else "220"
        except ValueError:
            return "231"


def builtin_sets() -> list[str]:
    return sorted(p.stem for p in VERSIONS_DIR.glob("*.yml"))


def _version_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def parse_version_set(name: str, data: Any, required: tuple[str, ...] = REQUIRED_RELEASES) -> VersionSet:
    """Validate a parsed version file; every problem is collected before raising.

    `required` names the releases that must be present (release-checkout mode needs none:
    the checkouts supply the rest)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise VersionSetError([f"version set {name}: expected a map of release name -> version"])
    releases: dict[str, str] = {}
    stemcell = dict(DEFAULT_STEMCELL)
    for key, value in data.items():
        if key == "stemcell":
            if not isinstance(value, dict) or not _version_text(value.get("version")):
                problems.append(f"version set {name}: stemcell needs {{name, version}}")
                continue
            stemcell = {
                "name": str(value.get("name") or DEFAULT_STEMCELL["name"]),
                "version": str(_version_text(value["version"])),
            }
            continue
        version = _version_text(value)
        if version is None:
            problems.append(f"version set {name}: release {key} has no usable version ({value!r})")
        elif version == "latest":
            problems.append(f"version set {name}: release {key} must be pinned, not 'latest'")
        else:
            releases[str(key)] = version
    if stemcell["version"] == "latest":
        problems.append(f"version set {name}: the stemcell must be pinned, not 'latest'")
    for release in required:
        if release not in data:
            problems.append(f"version set {name}: release {release} is missing")
    if problems:
        raise VersionSetError(problems)
    return VersionSet(name=name, releases=releases, stemcell=stemcell)


def load_version_set(name_or_path: str | Path, required: tuple[str, ...] = REQUIRED_RELEASES) -> VersionSet:
    """A built-in set name (`v0`, `v_prime`) or the path of a YAML version file."""
    text = str(name_or_path)
    builtin = VERSIONS_DIR / f"{text}.yml"
    if "/" not in text and not text.endswith((".yml", ".yaml")):
        if not builtin.is_file():
            raise VersionSetError(
                [f"unknown version set {text!r} (built-in sets: {', '.join(builtin_sets())}; or give a YAML file)"]
            )
        path = builtin
    else:
        path = Path(text)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise VersionSetError([f"cannot read version file {path}: {exc.strerror or exc}"])
    except yaml.YAMLError as exc:
        raise VersionSetError([f"cannot parse version file {path}: {exc}"])
    return parse_version_set(path.stem if path != builtin else text, data, required)
