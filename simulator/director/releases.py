"""Release and stemcell archives, and release versions as a director keeps them.

An uploaded release tarball carries `release.MF` (name, version, commit, and per job and
package its `version`, `fingerprint` and `sha1`) and `jobs/<job>.tgz` whose `job.MF` names the
packages and links of the job. The director stores all of it and returns it on
`GET /releases/:name` (issue 14: a promotion gate compares fingerprints read from there).
Archives are read as a stream, so a multi-GB upload never sits in memory; only the small
manifests are kept.

Releases preloaded from the catalog (a warm BOSH-Lite) have no tarball here: their jobs get
synthetic fingerprints and sha1s derived from name and version, and no packages.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

import yaml

from simulator.director import errors
from simulator.director.errors import DirectorError

JOB_ARCHIVE = re.compile(r"^jobs/([^/]+)\.tgz$")


@dataclass(frozen=True)
class ReleaseJob:
    name: str
    version: str
    fingerprint: str
    sha1: str
    packages: tuple[str, ...] = ()
    blobstore_id: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    consumes: Any = None  # job.MF link definitions, as the job declared them
    provides: Any = None


@dataclass(frozen=True)
class ReleasePackage:
    name: str
    version: str
    fingerprint: str
    sha1: str
    dependencies: tuple[str, ...] = ()
    blobstore_id: str = field(default_factory=lambda: str(uuidlib.uuid4()))


@dataclass
class ReleaseVersion:
    name: str
    version: str
    jobs: tuple[str, ...]
    commit_hash: str = "00000000"
    uncommitted_changes: bool = False
    job_details: tuple[ReleaseJob, ...] = ()
    packages: tuple[ReleasePackage, ...] = ()

    def job(self, name: str) -> ReleaseJob | None:
        return next((j for j in self.job_details if j.name == name), None)


@dataclass
class Archive:
    """What the director reads from an uploaded tarball: its manifest and (releases) each job's job.MF."""

    manifest: dict[str, Any]
    job_specs: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------- release versions


def synthetic(name: str, version: str, jobs: tuple[str, ...], commit_hash: str) -> ReleaseVersion:
    """A catalog release version (no tarball): fingerprints derived from name/version/job."""
    details = []
    for job in jobs:
        digest = hashlib.sha1(f"{name}/{version}/{job}".encode()).hexdigest()
        details.append(ReleaseJob(job, digest, digest, hashlib.sha1(digest.encode()).hexdigest(),
                                  blobstore_id=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{name}/{version}/{job}"))))
    return ReleaseVersion(name, version, jobs, commit_hash, False, tuple(details), ())


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def from_archive(archive: Archive) -> ReleaseVersion:
    """The release version a `release.MF` (and its jobs' job.MF) describe."""
    mf = archive.manifest
    try:
        name, version = str(mf["name"]), str(mf["version"])
        raw_jobs = mf.get("jobs") or []
        raw_packages = mf.get("packages") or []
        if not isinstance(raw_jobs, list) or not isinstance(raw_packages, list):
            raise TypeError
        jobs: list[ReleaseJob] = []
        for j in raw_jobs:
            if not isinstance(j, dict):  # a bare job name (old hand-made manifests)
                jobs.append(ReleaseJob(str(j), "", "", ""))
                continue
            spec = archive.job_specs.get(str(j["name"])) or {}
            packages = _strings(j.get("packages")) or _strings(spec.get("packages"))
            jobs.append(ReleaseJob(str(j["name"]), str(j.get("version", "")), str(j.get("fingerprint", "")),
                                   str(j.get("sha1", "")), packages, consumes=spec.get("consumes"),
                                   provides=spec.get("provides")))
        packages = [ReleasePackage(str(p["name"]), str(p.get("version", "")), str(p.get("fingerprint", "")),
                                   str(p.get("sha1", "")), _strings(p.get("dependencies")))
                    for p in raw_packages]
    except (KeyError, TypeError):
        raise errors.release_invalid("Release manifest (release.MF) must have 'name', 'version' and 'jobs'")
    return ReleaseVersion(name, version, tuple(j.name for j in jobs), str(mf.get("commit_hash", "00000000")),
                          bool(mf.get("uncommitted_changes", False)), tuple(jobs), tuple(packages))


# ---------------------------------------------------------------------- archives


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _job_spec(data: bytes) -> dict[str, Any]:
    """job.MF of a job tarball (empty when unreadable: the job's manifest entry still counts)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for m in tar:
                if m.isfile() and _member_name(m) == "job.MF":
                    fh = tar.extractfile(m)
                    spec = yaml.safe_load(fh.read() if fh else b"")
                    return spec if isinstance(spec, dict) else {}
    except (tarfile.TarError, yaml.YAMLError, EOFError, OSError):
        pass
    return {}


def read_archive(payload: bytes | BinaryIO, what: str) -> Archive:
    """Read release.MF/stemcell.MF (and, for releases, each job's job.MF) from a tarball."""
    member = "release.MF" if what == "release" else "stemcell.MF"
    code = 30001 if what == "release" else 50001
    fileobj = io.BytesIO(payload) if isinstance(payload, bytes | bytearray) else payload
    manifest: dict[str, Any] | None = None
    specs: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                name = _member_name(m)
                job = JOB_ARCHIVE.match(name) if what == "release" else None
                if name == member:
                    fh = tar.extractfile(m)
                    data = yaml.safe_load(fh.read() if fh else b"")
                    if not isinstance(data, dict):
                        break
                    manifest = data
                    if what != "release":
                        break
                elif job is not None:
                    fh = tar.extractfile(m)
                    specs[job.group(1)] = _job_spec(fh.read() if fh else b"")
    except (tarfile.TarError, yaml.YAMLError, EOFError, OSError) as exc:
        raise DirectorError(code, f"Invalid {what} archive: {exc}", 400)
    if manifest is None:
        raise DirectorError(code, f"Invalid {what} archive: {member} not found or not a hash", 400)
    return Archive(manifest, specs)


def read_upload(stream: BinaryIO, what: str) -> Archive | DirectorError:
    """Read an upload stream's archive, then drain the rest of the body."""
    try:
        return read_archive(stream, what)
    except DirectorError as exc:
        return exc
    finally:
        while stream.read(1 << 20):
            pass


def read_location(location: str, what: str) -> Archive:
    """Remote uploads: only file:// is read; the simulator never fetches from the network."""
    url = urlparse(location)
    code = 30003 if what == "release" else 50005
    if url.scheme != "file":
        raise DirectorError(
            code, f"Downloading remote {what} failed: the simulator only accepts file:// locations "
                  f"(it never connects to '{url.netloc or location}')", 400)
    path = Path(unquote(url.path))
    try:
        with path.open("rb") as fh:
            return read_archive(fh, what)
    except OSError as exc:
        raise DirectorError(code, f"Downloading remote {what} failed: {exc.strerror}", 400)
