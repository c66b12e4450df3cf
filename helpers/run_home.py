"""Where a run keeps what must not go into `artifacts/`: its private directory.

Why a second directory: artifacts are uploaded to S3 and attached to CI builds, so they must
hold no secret (issue 12: a default run wrote `secrets.yml` and ten manifests full of
passwords and private keys there). But a run needs its real manifests, with their generated
credentials, for as long as its deployments live: V-prime must keep V0's passwords, and a
resumed run (`--resume`) must deploy exactly the manifests whose digests it recorded. So the
real manifests, the secrets file and the authoritative run state live in

    <state dir>/runs/<run id>/run-state.json          what the run created and how far it got
    <state dir>/runs/<run id>/manifests/v0/*.yml      the manifests it deploys, with credentials
    <state dir>/runs/<run id>/manifests/v_prime/*.yml
    <state dir>/runs/<run id>/manifests/secrets.yml

directories 0700, files 0600 (owner only), where the state dir is `--state-dir`, else
`$XDG_STATE_HOME/bosh-upgrade-acceptance`, else `~/.local/state/bosh-upgrade-acceptance`
(the XDG base directory for state that outlives a process). `artifacts/` gets a copy of
run-state.json (it holds no secret) and redacted copies of the manifests.

A run against the embedded simulator keeps its private directory inside the simulator's own
temporary directory: the director dies with the run, so there is nothing to resume, and
nothing is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_DIR = "bosh-upgrade-acceptance"
RECORD = "run-state.json"


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / APP_DIR


def private_dir(path: Path) -> Path:
    """`path` as an owner-only directory (created with its parents; an existing one is
    tightened to 0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def tighten(root: Path) -> None:
    """Every directory under `root` 0700, every file 0600: generated manifests and secrets
    are written by several writers (spiff output, the secrets file); this makes sure."""
    private_dir(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(Path(dirpath) / name, 0o700)
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o600)


class RunHome:
    """The private directory of one run (module docstring)."""

    def __init__(self, state_dir: Path, run_id: str) -> None:
        self.state_dir = Path(state_dir)
        self.run_id = run_id
        self.path = self.state_dir / "runs" / run_id

    @property
    def record(self) -> Path:
        return self.path / RECORD

    @property
    def manifests(self) -> Path:
        return self.path / "manifests"

    def relative(self, path: Path) -> str:
        """`path` as the record keeps it: relative to the run's directory when inside it (so
        the directory can move), else absolute (manifests the config names)."""
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.path.resolve()))
        except ValueError:
            return str(path)

    def resolve(self, recorded: str) -> Path:
        path = Path(recorded)
        return path if path.is_absolute() else self.path / path

    def create(self) -> RunHome:
        private_dir(self.path)
        return self

    def exists(self) -> bool:
        return self.record.is_file()

    @staticmethod
    def runs(state_dir: Path) -> list[RunHome]:
        """The recorded runs under `state_dir`, most recently changed last."""
        root = Path(state_dir) / "runs"
        if not root.is_dir():
            return []
        found = [RunHome(state_dir, p.name) for p in root.iterdir() if (p / RECORD).is_file()]
        return sorted(found, key=lambda h: h.record.stat().st_mtime)
