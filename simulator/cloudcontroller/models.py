"""Cloud Controller's records (the "CCDB"): plain dataclasses in one locked store.

The store lives as long as the simulator, so desired state survives CC restarts: a stopped
`cloud_controller_ng` only means its host is not served.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass
class Record:
    guid: str = field(default_factory=new_guid)
    created_at: str = field(default_factory=now_iso)
    updated_at: str | None = None

    def touch(self) -> None:
        self.updated_at = now_iso()


@dataclass
class Organization(Record):
    name: str = ""
    status: str = "active"
    billing_enabled: bool = False
    quota_definition_guid: str | None = None


@dataclass
class Space(Record):
    name: str = ""
    organization_guid: str = ""
    allow_ssh: bool = True


@dataclass
class Domain(Record):
    name: str = ""


@dataclass
class Stack(Record):
    name: str = "cflinuxfs2"
    description: str = "Cloud Foundry Linux-based filesystem"


@dataclass
class App(Record):
    name: str = ""
    space_guid: str = ""
    stack_guid: str = ""
    buildpack: str | None = None
    command: str | None = None
    memory: int = 1024
    disk_quota: int = 1024
    instances: int = 1
    state: str = "STOPPED"
    environment_json: dict[str, Any] = field(default_factory=dict)
    health_check_type: str = "port"
    health_check_timeout: int | None = None
    diego: bool = False
    enable_ssh: bool = False
    production: bool = False
    docker_image: str | None = None
    ports: list[int] | None = None  # only a v231 CC has it (see era.py)
    version: str = field(default_factory=new_guid)
    package: bytes | None = None
    package_hash: str | None = None
    package_updated_at: str | None = None
    package_state: str = "PENDING"
    staged_package_hash: str | None = None
    droplet: Any = None
    detected_buildpack: str | None = None
    detected_start_command: str = ""
    staging_task_id: str | None = None
    staging_failed_reason: str | None = None
    staging_failed_description: str | None = None

    @property
    def process_guid(self) -> str:
        return f"{self.guid}-{self.version}"


@dataclass
class Route(Record):
    host: str = ""
    path: str = ""
    domain_guid: str = ""
    space_guid: str = ""
    app_guids: list[str] = field(default_factory=list)


@dataclass
class Job(Record):
    status: str = "queued"
    error_details: dict[str, Any] | None = None


@dataclass
class Event(Record):
    type: str = ""
    actor: str = ""
    actor_type: str = "user"
    actor_name: str = ""
    actee: str = ""
    actee_type: str = "app"
    actee_name: str = ""
    timestamp: str = field(default_factory=now_iso)
    metadata: dict[str, Any] = field(default_factory=dict)
    space_guid: str = ""
    organization_guid: str = ""


COLLECTIONS = ("organizations", "spaces", "shared_domains", "stacks", "apps", "routes", "jobs", "events")


class Store:
    """All records by collection name and guid. Callers hold `lock` across read-modify-write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[str, Any]] = {name: {} for name in COLLECTIONS}

    def add(self, collection: str, record: Any) -> Any:
        with self.lock:
            self.tables[collection][record.guid] = record
        return record

    def get(self, collection: str, guid: str) -> Any | None:
        with self.lock:
            return self.tables[collection].get(guid)

    def remove(self, collection: str, guid: str) -> Any | None:
        with self.lock:
            return self.tables[collection].pop(guid, None)

    def all(self, collection: str) -> list[Any]:
        with self.lock:
            return list(self.tables[collection].values())

    def find(self, collection: str, **attrs: Any) -> list[Any]:
        with self.lock:
            return [r for r in self.tables[collection].values()
                    if all(getattr(r, k) == v for k, v in attrs.items())]
