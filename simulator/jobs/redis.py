"""The `redis` job: a real redis-server per running instance that carries the template.

As on a real BOSH-Lite, what the instance runs comes from its deployed properties and the
version of the release the job template comes from, as redis-boshrelease's
`jobs/redis/templates/config/redis.conf.erb` of that version writes them:

* `redis.port` (default 6379); `redis.master` (an IP on the BOSH network: the instance
  becomes a replica of it, `slaveof` in the era's file).
* `redis.password`: ignored by v9 and v9.1 (2015: no requirepass in their redis.conf);
  from v11 written as requirepass and masterauth, with the job spec's default `r3d!s`
  when the manifest sets none; from v12 an empty password means no auth
  (cloudfoundry-community/redis-boshrelease@v9.1, @20a8097 = v11, @v12).
* Persistence, which no property of the era configures: RDB snapshots (`save 900 1`,
  `save 300 10`, `save 60 10000`, `dbfilename dump.rdb`) into `/var/vcap/store/redis/`,
  the persistent disk, and `appendonly no` (@v9.1 redis.conf.erb). Here the store is a
  directory per instance that lives as long as the instance (as its persistent disk does):
  an update stops the server (SIGTERM, on which redis-server saves its snapshot) and starts
  it again on the same store, so data survives; deleting the instance deletes its store.

The server binds the instance's IP translated onto loopback (`world.addresses`), so clients
reach it through the config's resolve map with the address the director reports. The
password goes into a 0600 config file in the instance's directory, not onto the command
line, so it never shows up in a process list.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.world import InstanceView, World

TEMPLATE = "redis"
DEFAULT_PORT = 6379
SPEC_DEFAULT_PASSWORD = "r3d!s"  # jobs/redis/spec `redis.password` default
SAVE_POINTS = ("900 1", "300 10", "60 10000")
READY_TIMEOUT = 30.0  # generous: a loaded CI machine can be slow to exec a server


def _major(version: str | None) -> int | None:
    head = str(version or "").split("+")[0].split(".")[0]
    return int(head) if head.isdigit() else None


def applied_password(props: dict[str, Any], release_version: str | None) -> str | None:
    """The password redis.conf gets from this release version (None: no auth)."""
    major = _major(release_version)
    if major is not None and major < 11:
        return None
    password = props.get("password", SPEC_DEFAULT_PASSWORD)
    if password is None or str(password) == "":
        return None  # v12: "empty password removes redis auth"
    return str(password)


def _conf_value(text: str) -> str:
    """Quote a value for redis.conf (double quotes; backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RedisJobs:
    """Runs and stops redis-server processes as instances start and stop."""

    def __init__(self, world: World, spawn: Callable[..., Any] | None = None,
                 binary: str | None = None) -> None:
        self.world = world
        self._spawn = spawn
        self.binary = binary or shutil.which("redis-server") or "redis-server"
        self._procs: dict[str, Any] = {}  # instance id -> ManagedProcess
        self._addr: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.logs: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ bus hooks

    def on_started(self, inst: InstanceView) -> None:
        if not inst.has_template(TEMPLATE) or not inst.ips:
            return
        self._stop(inst.id)
        self._start(inst)

    def on_stopped(self, inst: InstanceView) -> None:
        if inst.has_template(TEMPLATE) or inst.id in self._procs:
            self._stop(inst.id)

    def on_deleted(self, inst: InstanceView) -> None:
        """The instance and its persistent disk are gone: so is its store."""
        self.on_stopped(inst)
        shutil.rmtree(self.instance_dir(inst), ignore_errors=True)

    # ------------------------------------------------------------------ processes

    def instance_dir(self, inst: InstanceView) -> Path:
        return Path(self.world.state_dir) / "redis" / inst.deployment / f"{inst.group}-{inst.index}-{inst.id[:8]}"

    def store_dir(self, inst: InstanceView) -> Path:
        """`/var/vcap/store/redis/` of the instance: where its snapshots live."""
        return self.instance_dir(inst) / "store"

    def config_text(self, inst: InstanceView, workdir: Path) -> str:
        props = (inst.properties or {}).get("redis") or {}
        port = int(props.get("port") or DEFAULT_PORT)
        bind = self.world.addresses.to_loopback(inst.ips[0])
        lines = [
            f"port {port}",
            f"bind {bind}",
            *(f"save {point}" for point in SAVE_POINTS),
            "dbfilename dump.rdb",
            "appendonly no",
            "daemonize no",
            "protected-mode no",
            "repl-diskless-sync-delay 0",
            "shutdown-timeout 0",
            f"dir {_conf_value(str(workdir))}",
        ]
        inst_template = inst.template(TEMPLATE)
        password = applied_password(props, inst_template.release_version if inst_template else None)
        if password:
            lines += [f"requirepass {_conf_value(str(password))}", f"masterauth {_conf_value(str(password))}"]
        master = props.get("master")
        if master and str(master) != inst.ips[0]:
            lines.append(f"replicaof {self.world.addresses.to_loopback(str(master))} {port}")
        return "\n".join(lines) + "\n"

    def _start(self, inst: InstanceView) -> None:
        workdir = self.instance_dir(inst)
        store = self.store_dir(inst)
        store.mkdir(parents=True, exist_ok=True)
        conf = workdir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.config_text(inst, store))
        props = (inst.properties or {}).get("redis") or {}
        addr = (self.world.addresses.to_loopback(inst.ips[0]), int(props.get("port") or DEFAULT_PORT))
        log: list[str] = []
        self.logs[inst.id] = log  # only this process's lines, so a failure shows its own output

        def on_line(stream: str, text: str) -> None:
            log.append(f"{stream} {text}")
            del log[:-200]

        spawn = self._spawn
        if spawn is None:
            from simulator.processes import spawn
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        proc = spawn([self.binary, str(conf)], workdir, env, on_line)
        with self._lock:
            self._procs[inst.id] = proc
            self._addr[inst.id] = addr
        self._wait_ready(inst, proc, addr)

    def _wait_ready(self, inst: InstanceView, proc: Any, addr: tuple[str, int]) -> None:
        """Return once the server accepts connections, as a job's monit would report running."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(addr, timeout=0.5):
                    return
            except OSError:
                if not getattr(proc, "alive", True):
                    break
                time.sleep(0.02)
        tail = " | ".join(self.logs.get(inst.id, [])[-3:]) or "no output"
        state = "exited" if not getattr(proc, "alive", True) else f"still not listening after {READY_TIMEOUT:.0f}s"
        raise RuntimeError(f"redis-server for {inst.deployment}/{inst.group}/{inst.index} did not listen on "
                           f"{addr[0]}:{addr[1]} ({state}): {tail}")

    def _stop(self, instance_id: str) -> None:
        with self._lock:
            proc = self._procs.pop(instance_id, None)
            self._addr.pop(instance_id, None)
            self.logs.pop(instance_id, None)  # kept only while it runs: no growth across redeploys
        if proc is not None:
            proc.stop(5.0)

    def running(self) -> dict[str, tuple[str, int]]:
        """instance id -> loopback address of its live redis-server."""
        with self._lock:
            return {i: a for i, a in self._addr.items() if getattr(self._procs[i], "alive", True)}

    def close(self) -> None:
        for instance_id in list(self._procs):
            self._stop(instance_id)


def attach(world: World, spawn: Callable[..., Any] | None = None) -> RedisJobs:
    jobs = RedisJobs(world, spawn)
    world.bus.subscribe("started", jobs.on_started)
    world.bus.subscribe("stopped", jobs.on_stopped)
    world.bus.subscribe("deleted", jobs.on_deleted)
    world.components["redis"] = jobs
    return jobs
