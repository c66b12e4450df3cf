"""SSH proxy: CF authentication with one-time codes, exec in the instance, host keys, faults."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paramiko
import pytest

from simulator import diego as diego_mod
from simulator import sshproxy
from simulator.diego import RUNNING, Diego
from simulator.diego.testing import BRAIN, FakeDirector, RecordingLogs, make_world, zip_dir
from simulator.sshproxy import SshProxy, fingerprint_md5, fingerprint_sha256
from simulator.world import InstanceView, World

SECRET = "ssh-proxy-secret"


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


class FakeCC:
    def __init__(self) -> None:
        self.allowed: dict[str, str] = {}  # app guid -> process guid
        self.calls: list[tuple[Any, str, int]] = []

    def ssh_access(self, token: Any, app_guid: str, index: int) -> str:
        self.calls.append((token, app_guid, index))
        if token != "token-admin" or app_guid not in self.allowed:
            raise PermissionError("no")
        return self.allowed[app_guid]



@dataclass
class SshRig:
    world: World
    director: FakeDirector
    proxy: SshProxy
    diego: Diego
    uaa: FakeUAA
    cc: FakeCC
    logs: RecordingLogs
    access: InstanceView
    app_guid: str
    process_guid: str

    def endpoint(self) -> tuple[str, int]:
        host, port = self.world.published["ssh.bosh-lite.com:2222"].rsplit(":", 1)
        return host, int(port)

    def exec(self, command: str, index: int = 0, code: str | None = None,
             user: str | None = None) -> tuple[int, str, str, paramiko.PKey]:
        transport = paramiko.Transport(self.endpoint())
        try:
            transport.start_client(timeout=5)
            key = transport.get_remote_server_key()
            transport.auth_password(user or f"cf:{self.app_guid}/{index}", code or self.uaa.issue())
            chan = transport.open_session()
            chan.exec_command(command)
            stdout, stderr = chan.makefile("rb").read(), chan.makefile_stderr("rb").read()
            return chan.recv_exit_status(), stdout.decode(), stderr.decode(), key
        finally:
            transport.close()


HOST_KEY = paramiko.RSAKey.generate(1024)


def _pem(key: paramiko.RSAKey) -> str:
    buf = io.StringIO()
    key.write_private_key(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshRig]:
    tmp = tmp_path_factory.mktemp("ssh")
    world = make_world(tmp, app_stage=0.0)
    uaa, cc, logs = FakeUAA(), FakeCC(), RecordingLogs()
    world.components.update(uaa=uaa, cc=cc, logs=logs)
    director = FakeDirector(world)
    director.add("cf-warden", "ha_proxy_z1", ["haproxy"])
    for t in BRAIN:
        director.add("cf-warden-diego-brain-and-pals", f"{t}_z1", [t])
    access = director.add("cf-warden-diego-brain-and-pals", "access_z1", ["ssh_proxy"],
                          properties={"diego": {"ssh_proxy": {"host_key": _pem(HOST_KEY), "uaa_secret": SECRET,
                                                              "enable_cf_auth": True}}})
    director.add("cf-warden-diego-cell1", "cell_z1", ["rep", "garden"])
    diego_mod.attach(world)
    sshproxy.attach(world)
    diego: Diego = world.components["diego"]
    app_guid = str(uuid.uuid4())
    pg = f"{app_guid}-1"
    diego.desire(pg, app_guid, "probe", 2, diego.stage(app_guid, zip_dir()), {"GREETING": "hello"}, [], 64)
    cc.allowed[app_guid] = pg
    deadline = time.monotonic() + 15
    while not all(i.state == RUNNING for i in diego.instances(pg)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield SshRig(world, director, world.components["ssh"], diego, uaa, cc, logs, access, app_guid, pg)
    world.components["ssh"].close()
    diego.close()


def test_exec_stdout_stderr_exit_status_and_index(rig: SshRig) -> None:
    code, out, err, _ = rig.exec("echo $GREETING $CF_INSTANCE_INDEX; echo oops >&2; exit 7", index=1)
    assert (code, out, err) == (7, "hello 1\n", "oops\n")
    code, out, _, _ = rig.exec("pwd; test -f app.py && echo has-app")
    cwd, _env = rig.diego.instance_dir_env(rig.process_guid, 0)
    assert code == 0 and out == f"{cwd}\nhas-app\n"
    assert rig.cc.calls[-1] == ("token-admin", rig.app_guid, 0)
    assert ("ssh-proxy", SECRET) in rig.uaa.exchanges
    assert any(line[1] == "SSH" and line[3].startswith("Successful remote access") for line in rig.logs.lines)


def test_host_key_is_the_deployed_one(rig: SshRig) -> None:
    *_, key = rig.exec("true")
    assert fingerprint_md5(key) == fingerprint_md5(HOST_KEY) == rig.proxy.host_key_fingerprint()
    assert len(fingerprint_md5(key)) == 47 and len(fingerprint_sha256(key)) == 43


def test_generated_host_key_without_property(rig: SshRig) -> None:
    props = rig.access.properties
    rig.access.properties = {"diego": {"ssh_proxy": {"uaa_secret": SECRET}}}
    try:
        *_, key = rig.exec("true")
        assert fingerprint_md5(key) != fingerprint_md5(HOST_KEY)
        assert fingerprint_md5(key) == rig.proxy.host_key_fingerprint()
    finally:
        rig.access.properties = props


def test_code_is_single_use_and_checked(rig: SshRig) -> None:
    code = rig.uaa.issue()
    assert rig.exec("true", code=code)[0] == 0
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", code=code)
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", code="not-a-code")
    with pytest.raises(paramiko.AuthenticationException):  # CC refuses this app
        rig.exec("true", user=f"cf:{uuid.uuid4()}/0")
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", user="root")


def test_break_ssh_fault(rig: SshRig) -> None:
    rig.world.faults.inject("break_ssh", "probe", duration=1.0)
    code, out, err, _ = rig.exec("echo hi")
    assert code == 1 and out == "" and "Error" in err
    rig.world.faults.clear()
    assert rig.exec("echo hi")[:2] == (0, "hi\n")


def test_down_while_ssh_proxy_job_is_stopped(rig: SshRig) -> None:
    rig.director.down(rig.access)
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            rig.exec("true")
    finally:
        rig.director.start(rig.access)
    assert rig.exec("true")[0] == 0


def test_missing_instance_fails_cleanly(rig: SshRig) -> None:
    code, _, err, _ = rig.exec("true", index=5)
    assert code == 1 and "not running" in err
