"""The real client binaries of `../shared/oracles/`, decompressed once into a cache.

The oracles are kept compressed beside the checkout and must never be copied into the
project, so they are unpacked into a per-user cache (``$ORACLES_CACHE`` or
``~/.cache/bosh-upgrade-acceptance/oracles``) and checked against the sha256 the oracles'
README publishes: a corrupted or substituted binary would make every judgement it gives
worthless, so a mismatch is an error, never a silent re-use.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
ORACLES = SHARED / "oracles"


@dataclass(frozen=True)
class Oracle:
    name: str  # what tests call it: bosh, cf, spiff, era-sshd-c57d4a7, era-sshd-c8b9e63
    archive: str  # file name under ../shared/oracles/
    sha256: str  # of the decompressed binary, from ../shared/oracles/README.md


KNOWN: dict[str, Oracle] = {o.name: o for o in (
    Oracle("bosh", "bosh-7.1.2-linux-amd64.xz",
           "9477924939bfbcc567ad766ef370eab81a3ff69a0a4cb601af7018e893f8bdcb"),
    Oracle("cf", "cf-6.53.0-linux-amd64.xz",
           "79e05735a73903162bce13264f5330bdc8eea709eaf3d5e4aba006025a0592a8"),
    Oracle("spiff", "spiff-1.0.8-linux-amd64.xz",
           "ece77f236a1fd08e5505ffde1c0ce271ed3ef343e3f60b2c5ac47ecb98989e71"),
    Oracle("era-sshd-c57d4a7", "era-sshd-c57d4a7-linux-amd64.xz",
           "3a741e4c2d370f77823378429160638d02f53d578d0f16612f66fbd4e777406a"),
    Oracle("era-sshd-c8b9e63", "era-sshd-c8b9e63-linux-amd64.xz",
           "7458c4d18e6a505a79b79f5c4b83f21095928fc9133911bb659e2156851778e4"),
)}


class OracleUnavailable(RuntimeError):
    """The archive is not beside the checkout, or its content is not the published binary."""


def cache_dir() -> Path:
    base = os.environ.get("ORACLES_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "bosh-upgrade-acceptance" / "oracles"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def binary(name: str) -> Path:
    """Path of the named oracle, executable, verified; decompressed on first use.

    The cache entry is named by its digest, so a cached file is only ever the published one;
    it is written to a temporary name and renamed, so parallel test workers never see half
    a binary."""
    oracle = KNOWN[name]
    archive = ORACLES / oracle.archive
    target = cache_dir() / oracle.sha256[:16] / name
    if target.is_file() and os.access(target, os.X_OK):
        return target
    if not archive.is_file():
        raise OracleUnavailable(f"{archive} not found: the real clients live in ../shared/oracles/ beside the checkout")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, lzma.open(archive) as src:
            shutil.copyfileobj(src, out, 1 << 20)
        got = _sha256(Path(tmp))
        if got != oracle.sha256:
            raise OracleUnavailable(f"{archive}: decompressed sha256 {got}, published {oracle.sha256}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
