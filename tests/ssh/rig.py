"""The simulator's ssh proxy in a small world of its own, for tests that talk SSH to it.

`running_rig(tmp)` builds a `World` with a stand-in director (tests/world_doubles.py),
HAProxy, the Diego brain, one access instance carrying `ssh_proxy` with a deployed RSA host
key, one cell, the real Diego runtime running two instances of the probe app, the real
`SshProxy`, and stand-ins for UAA (one-time codes) and CC (ssh_access). The access instance
comes from diego 0.1434.0; `rig.diego(version)` switches it to another release for a block,
as a deploy of that release would.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from fakes import FakeCC

from simulator import diego as diego_mod
from simulator import sshproxy
from simulator.diego import RUNNING, Diego
from simulator.sshproxy import SshProxy
from simulator.world import InstanceView, JobTemplate, World
from tests.world_doubles import BRAIN, BusDirector, RecordingLogs, make_world, zip_dir

SECRET = "ssh-proxy-secret"
HOST_KEY = paramiko.RSAKey.generate(2048)


def pem(key: paramiko.PKey) -> str:
    buf = io.StringIO()
    key.write_private_key(buf)
    return buf.getvalue()


class FakeUAA:
    def __init__(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.exchanges: list[tuple[str, str]] = []

    def issue(self, user: str = "admin") -> str:
        code = uuid.uuid4().hex[:10]
        self.codes[code] = {"user_name": user, "access_token": f"token-{user}"}
        return code

    def exchange_code(self, code: str, client_id: str, client_secret: str) -> dict[str, Any] | None:
        self.exchanges.append((client_id, client_secret))
        claims = self.codes.pop(code, None)  # single use, even on a bad secret
        if claims is None or client_id != "ssh-proxy" or client_secret != SECRET:
            return None
        return claims


@dataclass
class SshRig:
    world: World
    director: BusDirector
    proxy: SshProxy
    diego_rt: Diego
    uaa: FakeUAA
    cc: FakeCC
    logs: RecordingLogs
    access: InstanceView
    app_guid: str
    process_guid: str

    def endpoint(self) -> tuple[str, int]:
        host, port = self.world.published["ssh.bosh-lite.com:2222"].rsplit(":", 1)
        return host, int(port)

    def user(self, index: int = 0) -> str:
        return f"cf:{self.app_guid}/{index}"

    def client(self, index: int = 0, code: str | None = None, **transport_kwargs: Any) -> paramiko.Transport:
        """An authenticated paramiko client transport (the caller closes it)."""
        transport = paramiko.Transport(self.endpoint(), **transport_kwargs)
        try:
            transport.start_client(timeout=10)
            transport.auth_password(self.user(index), code or self.uaa.issue())
        except BaseException:
            transport.close()
            raise
        return transport

    def exec(self, command: str, index: int = 0, code: str | None = None,
             user: str | None = None) -> tuple[int, str, str, paramiko.PKey]:
        transport = paramiko.Transport(self.endpoint())
        try:
            transport.start_client(timeout=10)
            key = transport.get_remote_server_key()
            transport.auth_password(user or self.user(index), code or self.uaa.issue())
            chan = transport.open_session()
            chan.exec_command(command)
            stdout, stderr = chan.makefile("rb").read(), chan.makefile_stderr("rb").read()
            return chan.recv_exit_status(), stdout.decode(), stderr.decode(), key
        finally:
            transport.close()

    def instance_port(self, index: int = 0) -> int:
        """The port the instance listens on inside its container (PORT: 8080 for every one)."""
        _home, env = self.diego_rt.instance_dir_env(self.process_guid, index)
        return int(env["PORT"])

    def external_port(self, index: int = 0) -> int:
        """The cell's port that garden maps to the instance's (CF_INSTANCE_PORT)."""
        _home, env = self.diego_rt.instance_dir_env(self.process_guid, index)
        return int(env["CF_INSTANCE_PORT"])

    @contextmanager
    def diego(self, version: str) -> Iterator[None]:
        """The access instance's ssh_proxy comes from diego `version` inside the block."""
        before = self.access.templates
        self.access.templates = [JobTemplate("ssh_proxy", "diego", version)]
        try:
            yield
        finally:
            self.access.templates = before


@contextmanager
def running_rig(tmp: Path) -> Iterator[SshRig]:
    world = make_world(tmp, app_stage=0.0)
    uaa, cc, logs = FakeUAA(), FakeCC(), RecordingLogs()
    world.components.update(uaa=uaa, cc=cc, logs=logs)
    director = BusDirector(world)
    director.add("cf-warden", "ha_proxy_z1", ["haproxy"])
    for t in BRAIN:
        director.add("cf-warden-diego-brain-and-pals", f"{t}_z1", [t])
    access = director.add("cf-warden-diego-brain-and-pals", "access_z1", ["ssh_proxy"],
                          properties={"diego": {"ssh_proxy": {"host_key": pem(HOST_KEY), "uaa_secret": SECRET,
                                                              "enable_cf_auth": True}}})
    director.add("cf-warden-diego-cell1", "cell_z1", ["rep", "garden"])
    diego_mod.attach(world)
    sshproxy.attach(world)
    diego: Diego = world.components["diego"]
    app_guid = str(uuid.uuid4())
    pg = f"{app_guid}-1"
    diego.desire(pg, app_guid, "probe", 2, diego.stage(app_guid, zip_dir()), {"GREETING": "hello"}, [], 64)
    cc.ssh_access_for[app_guid] = pg
    deadline = time.monotonic() + 15
    while not all(i.state == RUNNING for i in diego.instances(pg)):
        assert time.monotonic() < deadline, (
            f"probe app {app_guid} (process {pg}): not every instance RUNNING within 15 s: "
            f"{[(i.index, i.state) for i in diego.instances(pg)]}")
        time.sleep(0.05)
    try:
        yield SshRig(world, director, world.components["ssh"], diego, uaa, cc, logs, access, app_guid, pg)
    finally:
        world.components["ssh"].close()
        diego.close()
