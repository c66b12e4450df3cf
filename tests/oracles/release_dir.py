"""A tiny BOSH release directory made and built with the real bosh CLI v7.1.2.

One job and one package of a few bytes: enough for `bosh create-release` (dev or
`--final`) to compute real fingerprints and sha1s, so the simulator's director and the
promotion gates are judged against what the real CLI writes into release.MF. With `git`,
the directory is also a git repository (`bosh init-release --git`: the CLI's own
.gitignore for dev artifacts), committed, with a local blobstore for final releases, as a
release repository that `--final` accepts (it refuses a checkout with local changes).

The CLI runs with its own HOME (its blob cache lives there) and `BOSH_NON_INTERACTIVE`;
git runs without reading the user's configuration.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tests.oracles import binaries

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "release-dir", "GIT_AUTHOR_EMAIL": "release-dir@example.invalid",
                "GIT_COMMITTER_NAME": "release-dir", "GIT_COMMITTER_EMAIL": "release-dir@example.invalid",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def release_mf(tarball: Path) -> dict[str, Any]:
    """The release.MF inside a tarball the CLI wrote."""
    with tarfile.open(tarball) as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "release.MF")
        fh = tar.extractfile(member)
        assert fh is not None
        return yaml.safe_load(fh.read())


class ReleaseDir:
    """`ReleaseDir.create(root)`: init-release, job `tiny` (needs package `blob`), package
    `blob` (one file, `abc`)."""

    def __init__(self, path: Path, name: str, home: Path, git: bool) -> None:
        self.path = path
        self.name = name
        self.home = home
        self.git_repo = git

    @classmethod
    def create(cls, root: Path, name: str = "tiny-release", *, git: bool = False) -> ReleaseDir:
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        rel = cls(root / name, name, home, git)
        rel.bosh("init-release", "--dir", name, *(["--git"] if git else []), cwd=root)
        rel.bosh("generate-job", "tiny")
        rel.bosh("generate-package", "blob")
        (rel.path / "src" / "blob").mkdir(parents=True, exist_ok=True)
        (rel.path / "src" / "blob" / "data.txt").write_text("abc\n")
        (rel.path / "packages" / "blob" / "spec").write_text(
            "---\nname: blob\ndependencies: []\nfiles:\n- blob/data.txt\n")
        (rel.path / "packages" / "blob" / "packaging").write_text("cp blob/data.txt ${BOSH_INSTALL_TARGET}/\n")
        (rel.path / "jobs" / "tiny" / "spec").write_text(
            "---\nname: tiny\ntemplates: {}\npackages: [blob]\nproperties: {}\n")
        if git:
            (rel.path / "config" / "final.yml").write_text(yaml.safe_dump({
                "name": name, "blobstore": {"provider": "local", "options": {"blobstore_path": str(root / "blobs")}}}))
            rel.commit("a tiny release")
        return rel

    @property
    def environ(self) -> dict[str, str]:
        """The environment the CLI runs in here (give it to any other run of the CLI on this
        directory: the dev builds' blobs are cached under this HOME)."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "BOSH_NON_INTERACTIVE": "true"}

    def bosh(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run([str(binaries.binary("bosh")), *args], cwd=cwd or self.path, env=self.environ,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"bosh {' '.join(args)} failed in {cwd or self.path}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_IDENTITY}
        proc = subprocess.run(["git", "-C", str(self.path), *args], env=env, capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed in {self.path}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout.strip()

    def commit(self, message: str) -> str:
        """Commit everything; returns the full commit id."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def create_dev(self, tarball: Path, *extra: str) -> dict[str, Any]:
        """A dev release tarball (`--force` outside git, where nothing is dirty to begin with)."""
        self.bosh("create-release", *([] if self.git_repo else ["--force"]), "--name", self.name,
                  "--tarball", str(tarball), *extra)
        return release_mf(tarball)

    def create_final(self, tarball: Path, *extra: str) -> dict[str, Any]:
        self.bosh("create-release", "--final", "--name", self.name, "--tarball", str(tarball), *extra)
        return release_mf(tarball)

    def change_job(self, text: str) -> None:
        """A change to the job's monit file: the job's fingerprint changes, the package's not."""
        (self.path / "jobs" / "tiny" / "monit").write_text(text)
