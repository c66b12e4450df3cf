"""The run's own record of what it created and did, saved as it goes (`run-state.json`).

Why a file and not only memory: a real upgrade run takes hours (its users report one to two). What the run
created (deployments, the version each runs and whether it is running, the org, the apps),
which manifests it deployed (their digests) and how far the story got (each step's outcome,
tasks, check verdicts and measurements) is written after every change, atomically, so that
whatever ends the process, the next reader (a report writer, an operator, a resumed run)
knows exactly what this run owns. Ownership is the point: the driver changes only
deployments listed here, and the record names the run that created them, so "the suite
never touches what it did not create" holds across invocations too.

No secrets are kept here: names, guids, versions, digests, outcomes. The authoritative file
lives in the run's private directory (helpers/run_home.py: owner-only, outside
`artifacts/`, kept for `--resume`); a copy goes to the artifacts (`mirror`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers.redaction import redact_data

FORMAT = 1


class RunRecord:
    """Thread-safe; every mutation goes through `change()`, which saves the file."""

    def __init__(self, path: Path | None, run_id: str | None = None, mirror: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.mirror = Path(mirror) if mirror is not None else None
        self._lock = threading.RLock()
        self.data: dict[str, Any] = {
            "format": FORMAT, "run_id": run_id or uuid.uuid4().hex[:8], "director_uuid": None, "invocations": [],
            "deployments": {}, "apps": {}, "org": None, "space": None, "manifests": {}, "steps": {},
        }

    # -- persistence -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, mirror: Path | None = None) -> RunRecord:
        """Raises ValueError naming the file when it is not a run state this suite wrote."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the run state: {exc}")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{path}: run state format {found!r}, this suite reads {FORMAT}")
        record = cls(path, str(data.get("run_id")), mirror)
        record.data.update(data)
        return record

    def save(self) -> None:
        """The private file as it is; the artifacts' copy redacted (helpers/redaction.py): a
        step's message or a check's verdict may quote a BOSH task or a CF error that carries a
        credential, and artifacts are uploaded."""
        with self._lock:
            if self.path is not None:
                _write(self.path, _dump(self.data), 0o600)
            if self.mirror is not None:
                _write(self.mirror, _dump(redact_data(self.data)), 0o644)

    @contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """`with record.change() as data:` mutate, then the file is saved."""
        with self._lock:
            yield self.data
            self.save()

    # -- the run ---------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    def begin_invocation(self, argv: list[str] | None = None) -> int:
        with self.change() as d:
            d["invocations"].append({"started": time.time(), "argv": list(argv or []), "ended": None,
                                     "outcome": None})
            return len(d["invocations"]) - 1

    def note_invocation(self, **fields: Any) -> None:
        with self.change() as d:
            if d["invocations"]:
                d["invocations"][-1].update(fields)

    def end_invocation(self, outcome: str) -> None:
        with self.change() as d:
            if d["invocations"]:
                d["invocations"][-1].update(ended=time.time(), outcome=outcome)

    @property
    def invocation(self) -> int:
        return max(len(self.data["invocations"]) - 1, 0)

    def bind_director(self, director_uuid: str) -> None:
        """The director this run's deployments live on: a resumed run refuses any other."""
        with self.change() as d:
            d["director_uuid"] = director_uuid

    # -- ownership ---------------------------------------------------------------------------

    def created(self, label: str, name: str, version: str, manifest_digest: str | None = None,
                task: int | None = None) -> None:
        """Deployment `name` (story label CF/D1..D4) was created by this run at `version`, by
        director task `task`."""
        with self.change() as d:
            d["deployments"][label] = {"name": name, "version": version, "running": True,
                                       "manifest": manifest_digest, "created_by": self.run_id,
                                       "created_task": task, "invocation": self.invocation}

    def attempting(self, label: str, name: str, version: str, manifest_digest: str) -> None:
        """A deploy of `name` is about to start. Until it succeeds the director may hold either
        manifest (a failed deploy can leave the new one stored), and a deployment that did not
        exist before may exist half-made: both stay this run's, so a resumed run may finish them."""
        with self.change() as d:
            d.setdefault("attempts", {})[label] = {"name": name, "version": version, "manifest": manifest_digest,
                                                   "invocation": self.invocation}

    def attempt_done(self, label: str) -> None:
        with self.change() as d:
            d.setdefault("attempts", {}).pop(label, None)

    def attempt(self, label: str) -> dict[str, Any] | None:
        return (self.data.get("attempts") or {}).get(label)

    def owns(self, name: str) -> bool:
        return name in self.owned_names()

    def owned_names(self) -> list[str]:
        """Deployments this run created, and those it began creating (a first deploy that failed)."""
        names = [dep["name"] for dep in self.data["deployments"].values()]
        return names + [a["name"] for a in (self.data.get("attempts") or {}).values() if a["name"] not in names]

    def deployment(self, label: str) -> dict[str, Any] | None:
        return self.data["deployments"].get(label)

    def set_deployment(self, label: str, **fields: Any) -> None:
        with self.change() as d:
            d["deployments"][label].update(fields)

    def app(self, role: str, name: str, guid: str, **extra: Any) -> None:
        """An app this run created (`A0`, a push-ability attempt ...); deleted with the org."""
        with self.change() as d:
            d["apps"][role] = {"name": name, "guid": guid, **extra}

    def forget_app(self, role: str) -> None:
        with self.change() as d:
            d["apps"].pop(role, None)

    def org_space(self, org: tuple[str, str], space: tuple[str, str]) -> None:
        with self.change() as d:
            d["org"] = {"name": org[0], "guid": org[1]}
            d["space"] = {"name": space[0], "guid": space[1]}

    def manifests(self, digests: Mapping[str, Mapping[str, str]],
                  paths: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """version -> deployment -> sha256 of the manifest text (and the file it is in: the
        run's private directory, or the config's manifest directories)."""
        with self.change() as d:
            d["manifests"] = {v: dict(m) for v, m in digests.items()}
            if paths is not None:
                d["manifest_paths"] = {v: dict(m) for v, m in paths.items()}

    # -- the story's progress ------------------------------------------------------------------

    def begin_step(self, step_id: str) -> None:
        """Step `step_id` starts (again) in this invocation: what an earlier invocation recorded
        of it moves to `earlier`, so the step's record says which invocation ran it."""
        with self.change() as d:
            old = d["steps"].get(step_id)
            entry: dict[str, Any] = {"invocation": self.invocation}
            if old and old.get("invocation") != self.invocation:
                entry["earlier"] = [*old.pop("earlier", []), old]
            d["steps"][step_id] = entry

    def step(self, step_id: str, **fields: Any) -> None:
        """Merge `fields` into the record of story step `step_id` (outcome, tasks, checks, ...)."""
        with self.change() as d:
            entry = d["steps"].setdefault(step_id, {"invocation": self.invocation})
            entry.update(fields)

    def step_data(self, step_id: str) -> dict[str, Any]:
        return dict(self.data["steps"].get(step_id) or {})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.data))


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    """Atomically, created with `mode` (0600 for the private copy: never readable by others,
    not even for the instant between write and chmod)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    tmp.replace(path)
