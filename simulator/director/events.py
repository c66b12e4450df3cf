"""The director's event log (`GET /events`, directors from 1.3232 on): who did what to which
deployment or instance, in which task. A begin/end pair shares `parent_id` (the end event
points at the begin event), as bosh's EventManager records deploys and instance updates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

EVENT_LIMIT = 200  # bosh EventsController::EVENT_LIMIT


@dataclass
class Event:
    id: int
    timestamp: int
    user: str
    action: str
    object_type: str
    object_name: str | None = None
    task: str | None = None
    deployment: str | None = None
    instance: str | None = None
    parent_id: int | None = None
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """bosh's `event_to_hash`: ids as strings, empty values left out."""
        full = {"id": str(self.id), "parent_id": str(self.parent_id) if self.parent_id else "",
                "timestamp": self.timestamp, "user": self.user, "action": self.action,
                "object_type": self.object_type, "object_name": self.object_name, "error": self.error,
                "task": self.task, "deployment": self.deployment, "instance": self.instance,
                "context": self.context}
        return {k: v for k, v in full.items() if v is not None and v != ""}


class EventLog:
    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def record(self, user: str, action: str, object_type: str, object_name: str | None = None, *,
               task: int | None = None, deployment: str | None = None, instance: str | None = None,
               parent: Event | None = None, error: str | None = None,
               context: dict[str, Any] | None = None) -> Event:
        with self._lock:
            event = Event(len(self._events) + 1, int(time.time()), user, action, object_type, object_name,
                          str(task) if task is not None else None, deployment, instance,
                          parent.id if parent else None, error, dict(context or {}))
            self._events.append(event)
            return event

    def query(self, *, before_id: int | None = None, before_time: int | None = None, after_time: int | None = None,
              **equals: str | None) -> list[Event]:
        """Newest first, at most EVENT_LIMIT; `equals` filters task/deployment/instance/user/
        action/object_type/object_name by exact value. `after_time` keeps events at least one
        second after it (bosh adds 1 to the parsed time)."""
        with self._lock:
            events = list(reversed(self._events))
        out = []
        for e in events:
            if before_id is not None and e.id >= before_id:
                continue
            if before_time is not None and e.timestamp >= before_time:
                continue
            if after_time is not None and e.timestamp < after_time + 1:
                continue
            if any(value is not None and getattr(e, key) != value for key, value in equals.items()):
                continue
            out.append(e)
            if len(out) >= EVENT_LIMIT:
                break
        return out
