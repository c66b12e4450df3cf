"""Read (and, for tests and fixtures, write) BOSH release and stemcell tarballs.

A release tarball names itself in `release.MF` (name, version, jobs, commit hash), a
stemcell in `stemcell.MF`. Uploads are skipped or pinned by those names, never by file
names, because CI resources and bosh.io downloads name files arbitrarily.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml


class TarballError(ValueError):
    """The file is not a readable release or stemcell tarball; the message names it."""


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    version: str
    jobs: tuple[str, ...] = ()
    commit_hash: str = ""
    uncommitted_changes: bool = False

    @property
    def is_final(self) -> bool:
        """Final releases have plain versions (`220`, `0.1434.0`, `9.1`); dev builds carry
        `+dev.N`, and `latest` is not a version at all."""
        return is_final_version(self.version)


@dataclass(frozen=True)
class StemcellInfo:
    name: str
    version: str
    operating_system: str = ""


_FINAL = re.compile(r"^\d+(\.\d+)*$")


def is_final_version(version: str) -> bool:
    return bool(_FINAL.match(str(version)))


def _member(path: Path, names: tuple[str, ...]) -> dict:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.lstrip("./") in names:
                    handle = tar.extractfile(member)
                    if handle is None:
                        break
                    data = yaml.safe_load(handle.read())
                    if not isinstance(data, dict):
                        raise TarballError(f"{path}: {member.name} is not a YAML mapping")
                    return data
    except (OSError, tarfile.TarError, yaml.YAMLError) as exc:
        raise TarballError(f"{path}: not a readable tarball ({exc})") from exc
    raise TarballError(f"{path}: no {' or '.join(names)} inside; is it a BOSH tarball?")


def release_manifest(path: str | Path) -> dict:
    """A release tarball's release.MF as written (jobs and packages with their fingerprints)."""
    return _member(Path(path), ("release.MF",))


def read_release(path: str | Path) -> ReleaseInfo:
    data = release_manifest(path)
    missing = [k for k in ("name", "version") if not data.get(k)]
    if missing:
        raise TarballError(f"{path}: release.MF lacks {', '.join(missing)}")
    jobs = tuple(str(j["name"]) if isinstance(j, dict) else str(j) for j in data.get("jobs") or [])
    return ReleaseInfo(str(data["name"]), str(data["version"]), jobs, str(data.get("commit_hash") or ""),
                       bool(data.get("uncommitted_changes", False)))


def read_stemcell(path: str | Path) -> StemcellInfo:
    data = _member(Path(path), ("stemcell.MF",))
    missing = [k for k in ("name", "version") if not data.get(k)]
    if missing:
        raise TarballError(f"{path}: stemcell.MF lacks {', '.join(missing)}")
    return StemcellInfo(str(data["name"]), str(data["version"]), str(data.get("operating_system") or ""))


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def release_mf(name: str, version: str, jobs: list[str], commit_hash: str = "0000000", *,
               packages: tuple[str, ...] = (), source: str | None = None) -> dict:
    """A release.MF for tests and the simulator's uploads. Fingerprints stand for the jobs'
    and packages' source, as bosh computes them from the files: derived from `source`
    (default: the version), so two versions built from one source (a dev build and the final
    cut from it) carry equal fingerprints, and any other two do not."""
    def fingerprint(kind: str, item: str) -> str:
        return hashlib.sha1(f"{name}/{source or version}/{kind}/{item}".encode()).hexdigest()

    def entry(kind: str, item: str) -> dict:
        fp = fingerprint(kind, item)
        return {"name": item, "version": fp, "fingerprint": fp, "sha1": hashlib.sha1(fp.encode()).hexdigest()}

    return {"name": name, "version": version, "commit_hash": commit_hash, "uncommitted_changes": False,
            "jobs": [entry("job", j) for j in jobs],
            "packages": [{**entry("package", p), "dependencies": []} for p in packages]}


def build_release_tarball(name: str, version: str, jobs: list[str], commit_hash: str = "0000000", *,
                          packages: tuple[str, ...] = (), source: str | None = None) -> bytes:
    """A minimal release tarball (release.MF only: see `release_mf`)."""
    manifest = release_mf(name, version, jobs, commit_hash, packages=packages, source=source)
    return _tar_bytes({"./release.MF": yaml.safe_dump(manifest).encode()})


def build_stemcell_tarball(name: str, version: str, operating_system: str = "ubuntu-trusty") -> bytes:
    manifest = {"name": name, "version": version, "operating_system": operating_system,
                "cloud_properties": {}, "sha1": "0"}
    return _tar_bytes({"stemcell.MF": yaml.safe_dump(manifest).encode(), "image": b""})
