"""Candidates: the template set of one promotion, as a deterministic `.tgz` named by its digest.

A candidate holds the upstream redis-boshrelease templates, our per-environment networking
and scaling templates, and `candidate.yml` (sources, release versions, creation time,
content digest). The tarball bytes are deterministic for the same inputs (sorted members,
fixed mtimes and owners, gzip without a timestamp), so its sha256 names it. Reading a
candidate re-computes both the tarball digest and the content digest: a tampered or
truncated tarball is refused before anything is deployed from it.

Creation time versus determinism: a wall-clock time inside candidate.yml would give every
build of the same templates a new digest, so two builds of one commit would look like two
candidates that each need their own trip through dev and staging. `created` is therefore
the *source date* (the reproducible-builds convention): `SOURCE_DATE_EPOCH` when set, else
the newest committer date of the HEAD commits of the checkouts the templates come from.
Nothing in a candidate depends on the checkout's file times, modes or directory order
(members are sorted, mode 0644, mtime 0), so two clones of one commit, whatever their file
times or clone depth, build the same digest. A directory that is not a git checkout has no
source date (`created: null`) unless SOURCE_DATE_EPOCH gives one. `created_from` says which.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENTS = ("dev1", "dev2", "staging", "production")
UPSTREAM_FILES = ("deployment.yml", "jobs.yml")
DEFAULT_STEMCELL = {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "latest"}
FINAL_VERSION = re.compile(r"\d+(\.\d+)*")
DIGEST = re.compile(r"[0-9a-f]{64}")


class CandidateError(Exception):
    """A candidate cannot be built or read; the message says why and what to do."""


def refused(digest: str, why: str, remedy: str, rule: str = "verified-candidate") -> CandidateError:
    """A candidate that cannot be used, in the same words as every other refusal."""
    return CandidateError(f"refused by rule '{rule}': candidate {digest[:12]} {why}; to satisfy it: {remedy}")


REBUILD = "rebuild it with `python -m promotion build` and use the digest that build prints"


def is_final(version: object) -> bool:
    """Final releases have plain versions (`9`, `9.1`); `9+dev.1` and `latest` are not.
    The same test makes a stemcell version exact (`3147`, `3147.1`)."""
    return isinstance(version, str | int) and bool(FINAL_VERSION.fullmatch(str(version)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_digest(files: dict[str, bytes]) -> str:
    """Digest over the template files (not candidate.yml): path and sha256 of each, sorted."""
    lines = "".join(f"{path}\0{sha256(data)}\n" for path, data in sorted(files.items()))
    return sha256(lines.encode())


def git_revision(path: Path) -> str | None:
    """The commit of the git checkout containing `path` (with `-dirty` when files below
    `path` have uncommitted changes), or None when it is not a git checkout."""
    rev = git_output(path, "rev-parse", "HEAD")
    if not rev:
        return None
    return rev + ("-dirty" if git_output(path, "status", "--porcelain", "--", ".") else "")


def git_output(path: Path, *args: str, timeout: float = 10.0) -> str | None:
    """`git -C path ARGS`'s stripped output, or None when git fails (not a checkout, no such
    revision) or cannot run."""
    try:
        r = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def source_date(checkouts: list[Path], env: dict[str, str] | None = None) -> tuple[str | None, str]:
    """(created, created_from): the candidate's creation time as a function of its inputs:
    `SOURCE_DATE_EPOCH` when set, else the newest committer date of the HEAD commit of each
    git checkout (HEAD's own date: the same in a full clone and a shallow one, where the
    history of single files is cut off). Never a file's modification time."""
    env = os.environ if env is None else env
    if env.get("SOURCE_DATE_EPOCH"):
        return _iso(int(env["SOURCE_DATE_EPOCH"])), "SOURCE_DATE_EPOCH"
    stamps = [int(t) for t in (git_output(d, "log", "-1", "--format=%ct", "HEAD") for d in checkouts) if t]
    if not stamps:
        return None, "none"
    return _iso(max(stamps)), "commit"


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def upstream_templates_dir(upstream: Path) -> Path:
    """Accept a redis-boshrelease checkout (with `templates/`) or its templates dir itself."""
    upstream = Path(upstream)
    if (upstream / "templates" / "deployment.yml").is_file():
        return upstream / "templates"
    if (upstream / "deployment.yml").is_file():
        return upstream
    raise CandidateError(
        f"{upstream} is not a redis-boshrelease checkout: expected templates/deployment.yml "
        "(pass --upstream DIR or set promotion.upstream)"
    )


def parse_releases(specs: list[str]) -> list[dict[str, Any]]:
    """`redis=9.1` -> [{name: redis, version: '9.1', final: True}]."""
    out = []
    for spec in specs:
        name, sep, version = spec.partition("=")
        if not sep or not name or not version:
            raise CandidateError(f"release {spec!r}: expected NAME=VERSION, e.g. redis=9.1")
        out.append({"name": name, "version": version, "final": is_final(version)})
    return out


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[path]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


@dataclass(frozen=True)
class Candidate:
    digest: str
    meta: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)

    @property
    def releases(self) -> list[dict[str, Any]]:
        return list(self.meta.get("releases", []))

    @property
    def stemcell(self) -> dict[str, Any]:
        return dict(self.meta.get("stemcell", DEFAULT_STEMCELL))

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(self.meta.get("environments") or ENVIRONMENTS)

    def non_final_releases(self) -> list[str]:
        return [f"{r['name']}/{r['version']}" for r in self.releases if not is_final(str(r["version"]))]

    def template_docs(self, env: str) -> list[tuple[str, Any]]:
        """The candidate's templates for `env`, in merge order (see manifest.py)."""
        names = [f"upstream/{n}" for n in UPSTREAM_FILES]
        names += [f"environments/{env}/networking.yml", f"environments/{env}/scaling.yml"]
        missing = [n for n in names if n not in self.files]
        if missing:
            raise CandidateError(f"candidate {self.digest[:12]} has no templates for {env!r}: missing {missing}")
        return [(n, yaml.safe_load(self.files[n])) for n in names]


def build(
    upstream: Path,
    env_templates: Path,
    releases: list[dict[str, Any]],
    *,
    stemcell: dict[str, Any] | None = None,
    project_dir: Path | None = None,
    created: str | None = None,
    environments: tuple[str, ...] = ENVIRONMENTS,
) -> tuple[str, bytes]:
    """Compose the candidate tarball; returns (digest, bytes)."""
    if not releases:
        raise CandidateError("a candidate needs its release versions, e.g. --release redis=9.1")
    tdir = upstream_templates_dir(upstream)
    files: dict[str, bytes] = {}
    upstream_srcs = [tdir / name for name in UPSTREAM_FILES]
    for src in upstream_srcs:
        files[f"upstream/{src.name}"] = src.read_bytes()
    for env in environments:
        for part in ("networking", "scaling"):
            src = Path(env_templates) / f"{part}-{env}.yml"
            if not src.is_file():
                raise CandidateError(f"missing per-deployment template {src}")
            files[f"environments/{env}/{part}.yml"] = src.read_bytes()
    created_from = "given"
    if created is None:
        created, created_from = source_date([tdir, Path(env_templates)])
    meta = {
        "format": 1,
        "created": created,
        "created_from": created_from,
        "sources": {
            "project": {"revision": git_revision(project_dir or env_templates)},
            "upstream": {"revision": git_revision(tdir)},
        },
        "releases": releases,
        "stemcell": dict(stemcell or DEFAULT_STEMCELL),
        "environments": list(environments),
        "files": {path: sha256(data) for path, data in sorted(files.items())},
        "content_digest": content_digest(files),
    }
    files["candidate.yml"] = yaml.safe_dump(meta, sort_keys=True).encode()
    data = _tar_bytes(files)
    return sha256(data), data


def read(data: bytes, digest: str) -> Candidate:
    """Verify and open a candidate tarball; refuse anything that is not exactly `digest`."""
    actual = sha256(data)
    if actual != digest:
        raise refused(digest, f"has a tarball whose sha256 is {actual[:12]} ({len(data)} bytes), so it was "
                      "tampered with or truncated in the store", REBUILD)
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is not None:
                    files[member.name] = fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise refused(digest, f"is not a readable tarball ({exc})", REBUILD)
    if "candidate.yml" not in files:
        raise refused(digest, "has no candidate.yml inside", REBUILD)
    try:
        meta = yaml.safe_load(files.pop("candidate.yml"))
    except yaml.YAMLError:
        meta = None
    if not isinstance(meta, dict):
        raise refused(digest, "has a candidate.yml that is not a YAML map", REBUILD)
    if content_digest(files) != meta.get("content_digest"):
        raise refused(digest, "has templates whose content digest does not match candidate.yml (forged "
                      "or hand-edited)", REBUILD)
    return Candidate(digest=digest, meta=meta, files=files)


def key(digest: str) -> str:
    return f"candidates/{digest}.tgz"


def load(store, digest: str) -> Candidate:
    """Fetch and verify a candidate from a store (every read goes through here)."""
    from promotion.store import StoreError

    check_digest(digest)
    try:
        data = store.get(key(digest))
    except StoreError as exc:
        if "not found" not in str(exc):
            raise
        raise refused(digest, f"is not in the store {store.url}", "build it (`python -m promotion build`) "
                      "into this store, or pass the store it was built into (--store)", rule="known-candidate")
    return read(data, digest)


def check_digest(text: str) -> str:
    if not DIGEST.fullmatch(text):
        raise CandidateError(f"refused by rule 'known-candidate': {text!r} is not a candidate digest; to "
                             "satisfy it: pass the 64 lowercase hex digits `python -m promotion build` printed")
    return text
