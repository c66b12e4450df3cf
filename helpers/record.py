"""The run's own record of what it created and did, saved as it goes (`run-state.json`).

Why a file and not only memory: a real upgrade run takes one to two hours. What the run
created (deployments, the version each runs and whether it is running, the org, the apps),
which manifests it deployed (their digests) and how far the story got (each step's outcome,
tasks, check verdicts and measurements) is written after every change, atomically, so that
whatever ends the process, the next reader (a report writer, an operator, a resumed run)
knows exactly what this run owns. Ownership is the point: the driver changes only
deployments listed here, and the record names the run that created them, so "the suite
never touches what it did not create" holds across invocations too.

No secrets are kept here: names, guids, versions, digests, outcomes.
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

FORMAT = 1


class RunRecord:
    """Thread-safe; every mutation goes through `change()`, which saves the file."""

    def __init__(self, path: Path | None, run_id: str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self.data: dict[str, Any] = {
            "format": FORMAT, "run_id": run_id or uuid.uuid4().hex[:8], "invocations": [],
            "deployments": {}, "apps": {}, "org": None, "space": None, "manifests": {}, "steps": {},
        }

    # -- persistence -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        data = json.loads(Path(path).read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: run state format {data.get('format')!r}, this suite reads {FORMAT}")
        record = cls(path, data["run_id"])
        record.data.update(data)
        return record

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            text = json.dumps(self.data, indent=2, sort_keys=False) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(self.path)

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

    def end_invocation(self, outcome: str) -> None:
        with self.change() as d:
            if d["invocations"]:
                d["invocations"][-1].update(ended=time.time(), outcome=outcome)

    @property
    def invocation(self) -> int:
        return max(len(self.data["invocations"]) - 1, 0)

    # -- ownership ---------------------------------------------------------------------------

    def created(self, label: str, name: str, version: str, manifest_digest: str | None = None) -> None:
        """Deployment `name` (story label CF/D1..D4) was created by this run at `version`."""
        with self.change() as d:
            d["deployments"][label] = {"name": name, "version": version, "running": True,
                                       "manifest": manifest_digest, "created_by": self.run_id,
                                       "invocation": self.invocation}

    def owns(self, name: str) -> bool:
        return any(dep["name"] == name for dep in self.data["deployments"].values())

    def owned_names(self) -> list[str]:
        return [dep["name"] for dep in self.data["deployments"].values()]

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

    def manifests(self, digests: Mapping[str, Mapping[str, str]]) -> None:
        """version -> deployment -> sha256 of the manifest text."""
        with self.change() as d:
            d["manifests"] = {v: dict(m) for v, m in digests.items()}

    # -- the story's progress ------------------------------------------------------------------

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
