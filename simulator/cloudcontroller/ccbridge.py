"""What Diego's CC-bridge does for CC: staging (stager) and desired LRPs (nsync).

CC keeps the desired state; this bridge converges Diego to it. When the `nsync` job is not
running the changes wait (nothing is lost: the bridge remembers what it last told Diego and
compares again when any instance starts, as nsync's bulker does when it comes back).
Diego calls never happen while CC's store lock is held, so Diego may call back into CC
(`record_event`) or the logs component from inside them.

The bridge knows CC only through what it is given: the desired state (`desired`), where
staging lines go (`log`, CC's `emit_log`) and whom to tell a staging result (`staged`, the
apps' `staging_finished`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesiredLRP:
    process_guid: str
    app_guid: str
    app_name: str
    instances: int
    routes: tuple[str, ...]
    memory_mb: int
    droplet: Any
    env: tuple[tuple[str, str], ...]

    @property
    def shape(self) -> tuple[int, tuple[str, ...]]:
        return self.instances, self.routes


# (app guid, source type, source instance, message, stream)
LogSink = Callable[[str, str, str, str, str], None]
# (app guid, package hash, droplet or None, failure reason, failure description)
StagingResult = Callable[[str, str, Any, str | None, str | None], None]


class CCBridge:
    def __init__(self, world: Any, desired: Callable[[], list[DesiredLRP]], log: LogSink,
                 staged: StagingResult) -> None:
        self.world = world
        self._desired = desired
        self._log = log
        self._staged = staged
        self._told: dict[str, DesiredLRP] = {}
        self._sync_lock = threading.Lock()
        self._pending = False
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()

    def diego(self) -> Any | None:
        return self.world.components.get("diego")

    # ------------------------------------------------------------------ nsync

    def sync(self) -> bool:
        """Converge Diego's desired LRPs to CC's desired state now if nsync runs; True when
        Diego is up to date, False when changes are left pending."""
        with self._sync_lock:
            diego = self.diego()
            if self._closed or diego is None or not self.world.component_up("nsync"):
                self._pending = True
                return False
            desired = {lrp.process_guid: lrp for lrp in self._desired()}
            try:
                for pg, lrp in desired.items():
                    told = self._told.get(pg)
                    if told is None:
                        diego.desire(pg, lrp.app_guid, lrp.app_name, lrp.instances, lrp.droplet,
                                     dict(lrp.env), list(lrp.routes), lrp.memory_mb)
                        self._told[pg] = lrp
                    elif told.shape != lrp.shape:
                        try:
                            diego.update(pg, instances=lrp.instances if lrp.instances != told.instances
                                         else None,
                                         routes=list(lrp.routes) if lrp.routes != told.routes else None)
                        except KeyError:  # Diego forgot it (BBS data lost): desire it afresh
                            diego.desire(pg, lrp.app_guid, lrp.app_name, lrp.instances, lrp.droplet,
                                         dict(lrp.env), list(lrp.routes), lrp.memory_mb)
                        self._told[pg] = lrp
                for pg in [pg for pg in self._told if pg not in desired]:
                    diego.remove(pg)
                    del self._told[pg]
            except Exception as exc:  # Diego down (bbs): keep the difference for later
                log.info("nsync: diego refused a change (%s); will retry", exc)
                self._pending = True
                return False
            self._pending = False
            return True

    @property
    def pending(self) -> bool:
        return self._pending

    def on_instance_started(self, instance: Any) -> None:
        """Bus hook: a job came back (nsync, bbs ...): apply what waited, off the director's thread.
        When nsync or the BBS itself (re)starts, also run the bulker's full comparison."""
        if self._closed:
            return
        if instance.has_template("nsync") or instance.has_template("bbs"):
            self._spawn(self.bulk, "nsync-bulk")
        elif self._pending:
            self._spawn(self.sync, "nsync-resync")

    def bulk(self) -> bool:
        """nsync's bulker: forget what Diego no longer has (e.g. its database was recreated),
        then converge again."""
        diego = self.diego()
        lister = getattr(diego, "desired_lrps", None)
        if lister is not None and self.world.component_up("bbs"):
            try:
                known = {field_of(lrp, "process_guid") for lrp in lister()}
            except Exception:
                known = None
            if known is not None:
                with self._sync_lock:
                    for pg in [pg for pg in self._told if pg not in known]:
                        del self._told[pg]
        return self.sync()

    def stop_index(self, process_guid: str, index: int) -> None:
        """nsync's StopIndex (`DELETE /v2/apps/:guid/instances/:index`): Diego retires the
        actual LRP at `index` and auctions a fresh one in its place."""
        diego = self.diego()
        if diego is None or not self.world.component_up("nsync"):
            raise RuntimeError("nsync is not running")
        diego.restart_instance(process_guid, index)

    # ------------------------------------------------------------------ stager

    def stage(self, app_guid: str, package_hash: str, package: bytes) -> None:
        self._spawn(lambda: self._stage(app_guid, package_hash, package), f"stage-{app_guid[:8]}")

    def _stage(self, app_guid: str, package_hash: str, package: bytes) -> None:
        diego = self.diego()

        def staging_log(message: str, stream: str = "OUT", *_args: Any, **_kw: Any) -> None:
            self._log(app_guid, "STG", "0", str(message), stream)

        if diego is None:
            self._staged(app_guid, package_hash, None, "StagingError", "Diego is not available")
            return
        try:
            droplet = diego.stage(app_guid, package, staging_log)
        except Exception as exc:
            reason = getattr(exc, "reason", None) or "StagingError"
            self._staged(app_guid, package_hash, None, str(reason), str(exc) or reason)
            return
        self._staged(app_guid, package_hash, droplet, None, None)

    # ------------------------------------------------------------------ threads

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Join the staging/resync threads (tests and shutdown)."""
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def close(self) -> None:
        self._closed = True
        self.wait_idle(2.0)


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """A field of what Diego answered (its records, or a dict from a stand-in Diego)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def vcap_env(app: Any, uris: list[str], space_name: str, environment: dict[str, Any]) -> dict[str, str]:
    """The environment CC hands to Diego for an app (Diego adds the per-instance keys)."""
    env = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in environment.items()}
    env["VCAP_APPLICATION"] = json.dumps({
        "application_id": app.guid, "application_name": app.name, "application_uris": uris,
        "application_version": app.version, "name": app.name, "space_id": app.space_guid,
        "space_name": space_name, "uris": uris, "version": app.version,
        "limits": {"mem": app.memory, "disk": app.disk_quota, "fds": 16384}, "users": None})
    env["VCAP_SERVICES"] = "{}"
    env["MEMORY_LIMIT"] = f"{app.memory}m"
    return env
