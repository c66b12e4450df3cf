"""Fault injection for the project's own tests.

Faults are how the tests prove that the suite catches regressions: an A0 outage during a
Diego step, a failed BOSH task, a crashed instance, missing logs, broken SSH. Components
*ask* the registry (`active` for faults that last a while, `consume` for one-shot faults);
action faults (killing an instance) call the handler their owner registered.

The HTTP admin endpoint (`/_simulator/faults` on the director, director credentials
required) is a thin layer over `Faults`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# kind -> what it means (the owner of each kind reads it)
KINDS: dict[str, str] = {
    "route_outage": "router answers for app `target` with params.status (502 endpoint_failure, or 404 "
    "unknown_route) for `duration` seconds",
    "kill_instance": "action: kill the process of app `target` instance params.index (converger restarts it)",
    "fail_next_task": "the next director task touching deployment `target` ends in state error "
    "(params.message)",
    "delay_next_task": "the next director task touching deployment `target` waits params.seconds first",
    "cancel_next_task": "the next director task touching deployment `target` ends cancelled",
    "break_logs": "recent logs of app `target` (or all apps when target is null) come back empty for "
    "`duration` seconds",
    "break_ssh": "ssh sessions to app `target` (or all when null) exit 1 with an error for `duration` seconds",
    "expire_tokens": "action: UAA access tokens issued so far (to user `target`, or all) become invalid (CC 401 code 1000)",
    "misplace_instances": "diego places new instances of app `target` on any cell, ignoring cell state",
}


@dataclass
class Fault:
    id: int
    kind: str
    target: str | None
    params: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None  # monotonic; None = until consumed or cleared
    count: int | None = None  # one-shot faults: how many more times `consume` returns it

    def to_json(self) -> dict[str, Any]:
        remaining = None if self.expires_at is None else max(0.0, self.expires_at - time.monotonic())
        return {"id": self.id, "kind": self.kind, "target": self.target, "params": self.params,
                "remaining_seconds": remaining, "count": self.count}


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._actions: dict[str, Callable[[Fault], None]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def register_action(self, kind: str, handler: Callable[[Fault], None]) -> None:
        """Owner of an action kind (e.g. diego for kill_instance) registers what to do."""
        self._actions[kind] = handler

    def inject(self, kind: str, target: str | None = None, duration: float | None = None,
               count: int | None = None, params: dict[str, Any] | None = None) -> Fault:
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if duration is not None and duration <= 0:
            raise FaultError("duration must be positive")
        fault = Fault(next(self._ids), kind, target, dict(params or {}),
                      None if duration is None else time.monotonic() + duration,
                      count if count is not None else (None if duration is not None else 1))
        action = self._actions.get(kind)
        if action is not None:
            action(fault)
            return fault
        with self._lock:
            self._faults.append(fault)
        return fault

    def _live(self) -> list[Fault]:
        now = time.monotonic()
        self._faults = [f for f in self._faults
                        if (f.expires_at is None or f.expires_at > now) and (f.count is None or f.count > 0)]
        return self._faults

    def active(self, kind: str, target: str | None = None) -> Fault | None:
        """A lasting fault of `kind` that applies to `target` (a fault with no target applies to all)."""
        with self._lock:
            return next((f for f in self._live()
                         if f.kind == kind and f.target in (None, target)), None)

    def consume(self, kind: str, target: str | None = None) -> Fault | None:
        """Take one use of a one-shot fault of `kind` for `target`."""
        with self._lock:
            for f in self._live():
                if f.kind == kind and f.target in (None, target):
                    if f.count is not None:
                        f.count -= 1
                    return f
        return None

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._live())

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
