"""The driver: runs a story step's BOSH operations, and records them. Nothing else.

Each operation (deploy D3 at V-prime, stop D4, ...) is one director task, recorded as a step
of its own (kind of the story step, `data.task` = the BOSH task id) so that outage windows
name the operation and the task during which they happened, and noted in the run record
(which deployments exist, at which version, running or not). The driver changes only
deployments the run record says this run created: a deploy onto an existing deployment it
does not own is refused before any task starts, and so is a stop or start of one.

`upgrade.cell_stop: delete` reproduces DUSTs' "stop + delete, later redeploy from our own
manifest at the version it had" instead of `bosh stop`/`bosh start`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from helpers import story
from helpers.preflight import no_existing_deployments
from helpers.record import RunRecord
from helpers.steps import StepRecorder
from helpers.verdicts import CheckFailed


class StepFailed(RuntimeError):
    """A BOSH operation of a step failed; the message names the step, the operation and the
    deployment before the client's own text (which names the task id and the director's
    message), so a failure reads as a sentence of the story."""

    def __init__(self, message: str, task_id: int | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class Manifests(Protocol):
    """What the driver needs of the manifest sets (manifests/sets.py provides it)."""

    def text(self, deployment: str, version: str) -> str: ...
    def name(self, deployment: str) -> str: ...
    def digest(self, deployment: str, version: str) -> str: ...


@dataclass(frozen=True)
class OpResult:
    label: str  # deploy D3 at V-prime
    deployment: str  # cf-warden-diego-cell1
    task_id: int | None
    state: str | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"op": self.label, "deployment": self.deployment, "task": self.task_id, "state": self.state,
                "seconds": round(self.seconds, 3)}


class Driver:
    def __init__(self, director: Any, manifests: Manifests, record: RunRecord, recorder: StepRecorder, *,
                 cell_stop: str = "stop", on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        if cell_stop not in ("stop", "delete"):
            raise ValueError(f"cell_stop must be 'stop' or 'delete', not {cell_stop!r}")
        self.director = director
        self.manifests = manifests
        self.record = record
        self.recorder = recorder
        self.cell_stop = cell_stop
        self.on_event = on_event
        self.seconds = 0.0  # wall time inside BOSH operations (benchmarks)

    def run(self, step: story.Step) -> list[OpResult]:
        """Every operation of `step`, in order; the first failure stops the step."""
        results: list[OpResult] = []
        try:
            for op in step.ops:
                results.append(self.apply(op, step))
        finally:
            self.record.step(step.id, ops=[r.to_json() for r in results])
        return results

    def apply(self, op: story.Op, step: story.Step) -> OpResult:
        name = self.manifests.name(op.deployment)
        start = time.monotonic()
        with self.recorder.step(f"{op.label} ({name})", kind=step.kind,
                                data={"op": op.label, "deployment": op.deployment, "in": step.id}) as rec:
            try:
                task = self._apply(op, name)
            except CheckFailed:
                raise
            except Exception as exc:
                task_id = getattr(exc, "task_id", None)
                rec.data["task"] = task_id
                self.record.step(step.id, failed_op={"op": op.label, "deployment": name, "task": task_id})
                raise StepFailed(f"[{step.title}] {op.label} of deployment {name} failed: {exc}", task_id) from exc
            finally:
                self.seconds += time.monotonic() - start
            rec.data["task"] = getattr(task, "id", None)
        return OpResult(op.label, name, getattr(task, "id", None), getattr(task, "state", None),
                        time.monotonic() - start)

    def _apply(self, op: story.Op, name: str) -> Any:
        if op.action == "deploy":
            assert op.version is not None
            owned = self.record.owns(name)
            if not owned and name in self.director.deployment_names():
                raise CheckFailed(no_existing_deployments(op.label, [name], [name]))
            digest = self.manifests.digest(op.deployment, op.version)
            result = self.director.deploy(self.manifests.text(op.deployment, op.version), on_event=self.on_event)
            if owned:
                self.record.set_deployment(op.deployment, version=op.version, running=True, manifest=digest)
            else:
                self.record.created(op.deployment, name, op.version, digest)
            return result
        state = self.record.deployment(op.deployment)
        if state is None or state["name"] != name:
            raise RuntimeError(f"refusing to {op.action} deployment {name}: this run did not create it")
        if op.action == "stop":
            result = self.director.change_job_state(name, "stopped", on_event=self.on_event)
            if self.cell_stop == "delete":  # DUSTs' stop + delete + redeploy, from our own manifest
                result = self.director.delete_deployment(name, on_event=self.on_event, force=True)
            self.record.set_deployment(op.deployment, running=False)
            return result
        if self.cell_stop == "delete":
            result = self.director.deploy(self.manifests.text(op.deployment, state["version"]),
                                          on_event=self.on_event)
        else:
            result = self.director.change_job_state(name, "started", on_event=self.on_event)
        self.record.set_deployment(op.deployment, running=True)
        return result

    def versions(self) -> dict[str, str]:
        """deployment label -> the version the run last deployed it at."""
        return {label: dep["version"] for label, dep in self.record.data["deployments"].items()}
