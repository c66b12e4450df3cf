"""Director tasks: state machine, append-only outputs and the event-line format.

Clients (the Go CLI, the Ruby CLI, helpers/bosh.py) poll `GET /tasks/:id` and read the
outputs with `Range: bytes=N-`, advancing by the bytes they received; so every output is an
append-only byte string and event lines are complete JSON objects written in one append.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

ACTIVE_STATES = ("queued", "processing", "cancelling")
FINAL_STATES = ("done", "error", "cancelled", "timeout")
RESULT_MAX = 128
_LAST_WORD = re.compile(r"\s+?(\S+)?$", re.MULTILINE)


def truncate_result(text: str | None, length: int = RESULT_MAX) -> str | None:
    """The director keeps at most ~128 characters of a task's result (`JobRunner#truncate`):
    strip, cut, and if it was longer drop the last (partial) word and append '...'."""
    if text is None:
        return None
    stripped = text.strip()[: length + 1]
    if len(stripped) > length:
        return _LAST_WORD.sub("", stripped) + "..."
    return stripped


class TaskCancelled(Exception):
    """Raised at a checkpoint when the task was asked to cancel."""


@dataclass
class Task:
    id: int
    type: str  # update_deployment, delete_deployment, update_release, update_stemcell, vms, ...
    description: str
    user: str
    deployment: str | None = None
    context_id: str = ""
    state: str = "queued"
    timestamp: int = field(default_factory=lambda: int(time.time()))
    started_at: int | None = None
    result: str | None = None
    outputs: dict[str, bytearray] = field(default_factory=lambda: {
        "event": bytearray(), "result": bytearray(), "debug": bytearray(), "cpi": bytearray()})
    _cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _finished: threading.Event = field(default_factory=threading.Event)

    # ----- JSON form of GET /tasks/:id

    def to_json(self, keys: tuple[str, ...] | None = None, timestamp_null_while_running: bool = False) -> dict[str, Any]:
        """The task hash, with the keys of the director's era (`DirectorEra.task_keys`): a 2015
        director knows no `started_at`, `deployment` or `context_id`."""
        timestamp = None if timestamp_null_while_running and self.state in ("queued", "processing") \
            else self.timestamp
        full = {"id": self.id, "state": self.state, "description": self.description, "timestamp": timestamp,
                "started_at": self.started_at, "result": self.result, "user": self.user,
                "deployment": self.deployment, "context_id": self.context_id}
        return {k: full[k] for k in keys} if keys is not None else full

    # ----- state transitions

    def _set_state(self, state: str) -> None:
        with self._lock:
            self.state = state
            self.timestamp = int(time.time())

    def start(self) -> None:
        if self._cancel.is_set():
            raise TaskCancelled()
        self.started_at = int(time.time())
        self._set_state("processing")
        self.debug(f"Starting task: {self.id}")

    def finish(self, result: str | None) -> None:
        self.result = truncate_result(result)
        self._set_state("done")
        self.debug(f"Task {self.id} done")
        self._finished.set()

    def fail(self, code: int, message: str) -> None:
        self.event({"error": {"code": code, "message": message}})
        self.result = truncate_result(message)
        self._set_state("error")
        self.debug(f"Task {self.id} error: {message}")
        self._finished.set()

    def cancelled(self) -> None:
        self.result = "task cancelled"
        self._set_state("cancelled")
        self.debug(f"Task {self.id} cancelled")
        self._finished.set()

    def request_cancel(self) -> bool:
        """DELETE /task/:id. False when the task can no longer be cancelled."""
        with self._lock:
            if self.state not in ("queued", "processing"):
                return False
            self._cancel.set()
            self.timestamp = int(time.time())
            if self.state == "processing":
                self.state = "cancelling"
                return True
            # still queued: it never runs
            self.state = "cancelled"
            self.result = "task cancelled"
        self._finished.set()
        return True

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def checkpoint(self) -> None:
        if self._cancel.is_set():
            raise TaskCancelled()

    def sleep(self, seconds: float) -> None:
        """Wait, waking early when a cancel is requested (the next checkpoint raises)."""
        if seconds > 0:
            self._cancel.wait(seconds)

    def wait_finished(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    # ----- outputs

    def _append(self, kind: str, data: bytes) -> None:
        with self._lock:
            self.outputs[kind] += data

    def event(self, entry: dict[str, Any]) -> None:
        line = {"time": int(time.time()), **entry}
        self._append("event", (json.dumps(line, separators=(",", ":")) + "\n").encode())

    def stage_event(self, stage: str, task: str, index: int, total: int | None, state: str,
                    tags: list[str] | None = None, data: dict[str, Any] | None = None) -> None:
        progress = 0 if state == "started" else (100 if state in ("finished", "failed") else 50)
        entry: dict[str, Any] = {"stage": stage, "tags": tags or [], "total": total, "task": task,
                                 "index": index, "state": state, "progress": progress}
        if data:
            entry["data"] = data
        self.event(entry)

    def result_line(self, obj: Any) -> None:
        self._append("result", (json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def debug(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        self._append("debug", f"I, [{stamp}] INFO -- DirectorJobRunner: {text}\n".encode())

    def output(self, kind: str) -> bytes | None:
        """Bytes of output `kind`; None when that output does not exist (-> 204)."""
        with self._lock:
            data = self.outputs.get(kind)
            if data is None:
                return None
            if not data and kind in ("cpi",):
                return None
            return bytes(data)


class Stage:
    """One event-log stage: `task_started`/`task_finished` lines with 1-based indexes."""

    def __init__(self, task: Task, name: str, total: int | None, tags: list[str] | None = None) -> None:
        self.task, self.name, self.total, self.tags = task, name, total, tags or []
        self._next = 0
        self._lock = threading.Lock()

    def step(self, label: str) -> StageStep:
        with self._lock:
            self._next += 1
            return StageStep(self, label, self._next)


class StageStep:
    def __init__(self, stage: Stage, label: str, index: int) -> None:
        self.stage, self.label, self.index = stage, label, index

    def _emit(self, state: str, data: dict[str, Any] | None = None) -> None:
        s = self.stage
        s.task.stage_event(s.name, self.label, self.index, s.total, state, s.tags, data)

    def started(self) -> None:
        self._emit("started")

    def progress(self, status: str) -> None:
        self._emit("in_progress", {"status": status})

    def finished(self) -> None:
        self._emit("finished")

    def failed(self, error: str) -> None:
        self._emit("failed", {"error": error})
