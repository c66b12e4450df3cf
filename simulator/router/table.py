"""The gorouter's route table: host -> endpoints, each refreshed by the route emitter.

Routes are never removed just because an instance went away while the route emitter was
down: gorouter prunes an endpoint only when it has not been re-registered for its TTL, which
is exactly the staleness window the upgrade suite must survive. Round robin per host, as
gorouter's pool does.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RouteTag:
    """What the router knows about an endpoint besides its address (gorouter's tags and
    private_instance_id/index)."""

    app_guid: str
    app_name: str
    index: int
    instance_guid: str


@dataclass
class RouteEntry:
    host: str
    endpoint: tuple[str, int]  # loopback (translated cell address, port)
    tag: RouteTag
    public: tuple[str, int] | None = None  # (cell IP, port) as gorouter would log it
    refreshed: float = field(default_factory=time.monotonic)


def normalize_host(host: str) -> str:
    """`Host` header -> route host: lower case, no port, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


class RouteTable:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._routes: dict[str, dict[tuple[str, int], RouteEntry]] = {}
        self._rr: dict[str, int] = {}
        self._lock = threading.Lock()

    def register(self, host: str, endpoint: tuple[str, int], tag: RouteTag,
                 public: tuple[str, int] | None = None) -> None:
        host = normalize_host(host)
        with self._lock:
            pool = self._routes.setdefault(host, {})
            entry = pool.get(endpoint)
            if entry is None or entry.tag != tag:
                pool[endpoint] = RouteEntry(host, endpoint, tag, public)
            else:
                entry.refreshed = time.monotonic()

    def unregister(self, host: str, endpoint: tuple[str, int]) -> None:
        host = normalize_host(host)
        with self._lock:
            pool = self._routes.get(host)
            if pool is not None:
                pool.pop(endpoint, None)
                if not pool:
                    del self._routes[host]

    def _prune(self, host: str) -> dict[tuple[str, int], RouteEntry]:
        pool = self._routes.get(host, {})
        cutoff = time.monotonic() - self.ttl
        for key in [k for k, e in pool.items() if e.refreshed < cutoff]:
            del pool[key]
        if not pool:
            self._routes.pop(host, None)
        return pool

    def lookup(self, host: str) -> list[RouteEntry]:
        """Live endpoints of `host`, rotated so that successive calls start round robin."""
        host = normalize_host(host)
        with self._lock:
            entries = sorted(self._prune(host).values(), key=lambda e: e.endpoint)
            if not entries:
                return []
            start = self._rr.get(host, 0) % len(entries)
            self._rr[host] = start + 1
            return entries[start:] + entries[:start]

    def registered(self, host: str, endpoint: tuple[str, int]) -> bool:
        host = normalize_host(host)
        with self._lock:
            return endpoint in self._prune(host)

    def snapshot(self) -> dict[str, list[RouteEntry]]:
        with self._lock:
            for host in list(self._routes):
                self._prune(host)
            return {h: list(p.values()) for h, p in self._routes.items()}
