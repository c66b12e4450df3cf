"""ci.gateway against a real SSH server (paramiko, on loopback) standing for the host in the
director's network: the command's connections to 10.244.x.y go through `direct-tcpip`
channels, the host key is pinned, and without a gateway the command runs as it is."""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import yaml

from ci import gateway


def _ecdsa() -> paramiko.ECDSAKey:
    return paramiko.ECDSAKey.generate()


class _Server(paramiko.ServerInterface):
    def __init__(self, allowed: paramiko.PKey, opened: list):
        self.allowed = allowed
        self.opened = opened

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "vcap" and key.get_base64() == self.allowed.get_base64()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_direct_tcpip_request(self, chanid: int, origin: tuple, destination: tuple) -> int:
        self.opened.append(destination)
        return paramiko.OPEN_SUCCEEDED


@pytest.fixture
def jumpbox() -> Iterator[dict]:
    """An SSH gateway that answers every forwarded connection itself: `<dest ip>:<port> <line>`."""
    host_key, client_key, opened = _ecdsa(), _ecdsa(), []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_channel(channel: paramiko.Channel, destination: tuple) -> None:
        with channel:
            line = channel.makefile("rb").readline().decode().strip()
            channel.sendall(f"{destination[0]}:{destination[1]} {line}\n".encode())

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(host_key)
            server = _Server(client_key, opened)
            transport.start_server(server=server)

            def channels(transport: paramiko.Transport = transport) -> None:
                while transport.is_active():
                    channel = transport.accept(1)
                    if channel is not None:
                        threading.Thread(target=serve_channel, args=(channel, opened[-1]), daemon=True).start()

            threading.Thread(target=channels, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    buf = __import__("io").StringIO()
    client_key.write_private_key(buf)
    yield {"env": {"REDIS_GATEWAY": f"vcap@127.0.0.1:{port}", "REDIS_GATEWAY_PRIVATE_KEY": buf.getvalue(),
                   "REDIS_GATEWAY_HOST_KEY": f"{host_key.get_name()} {host_key.get_base64()}",
                   "REDIS_NETWORK": "10.244.2.0/24", "REDIS_PORTS": "6379"},
           "opened": opened, "other_key": _ecdsa()}
    listener.close()


PROBE = """
import os, sys, yaml
from helpers.config import load_config
config = load_config(os.environ["CONFIG"])
host, port = config.resolver().resolve("10.244.2.5", 6379)
import socket
s = socket.create_connection((host, port), timeout=5)
s.sendall(b"PING\\n")
print(s.makefile().readline().strip(), "via", host)
print("keeps", config.resolver().resolve("192.168.50.4", 25555))
"""


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"cf": {"api": "https://api.example.test", "admin_user": "admin",
                                           "admin_password": "pw"},
                                    "resolve": {"192.168.50.4:25555": "127.0.0.1:25555",
                                                "10.244.0.0/16": "127.37.0.0/16"}}))
    return path


def test_connections_to_the_network_go_through_the_gateway(jumpbox: dict, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    rc = gateway.main(["--config", str(_config(tmp_path)), "--", sys.executable, "-c", PROBE], env=jumpbox["env"])
    out = capfd.readouterr().out
    assert rc == 0, out
    # answered by the gateway, for that address, through the loopback block the tunnel chose
    assert re.search(r"10\.244\.2\.5:6379 PING via 127\.\d+\.0\.5\b", out), out
    assert jumpbox["opened"] == [("10.244.2.5", 6379)]
    assert "keeps ('127.0.0.1', 25555)" in out  # the rest of the resolve map is untouched


def test_a_gateway_with_another_host_key_is_refused(jumpbox: dict, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    other = jumpbox["other_key"]
    env = {**jumpbox["env"], "REDIS_GATEWAY_HOST_KEY": f"{other.get_name()} {other.get_base64()}"}
    marker = tmp_path / "ran"
    rc = gateway.main(["--config", str(_config(tmp_path)), "--", "touch", str(marker)], env=env)
    assert rc == 2 and not marker.exists()
    assert "not the pinned REDIS_GATEWAY_HOST_KEY" in capsys.readouterr().err
    assert jumpbox["opened"] == []


def test_without_a_gateway_the_command_gets_the_config_as_it_is(tmp_path: Path,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    rc = gateway.main(["--config", str(config), "--", sys.executable, "-c", "import os; print(os.environ['CONFIG'])"],
                      env={"PATH": "/usr/bin:/bin"})
    assert rc == 0 and capfd.readouterr().out.strip() == str(config.resolve())


def test_bad_settings_are_listed_together() -> None:
    with pytest.raises(gateway.GatewayError) as err:
        gateway.GatewaySettings.from_env({"REDIS_GATEWAY": "host-only", "REDIS_NETWORK": "10.0.0.0/8",
                                          "REDIS_PORTS": "63x9"})
    text = str(err.value)
    for expected in ("expected user@host[:port]", "REDIS_GATEWAY_PRIVATE_KEY is required",
                     "REDIS_GATEWAY_HOST_KEY is required", "16777216 addresses", "REDIS_PORTS='63x9'"):
        assert expected in text


def test_a_loopback_block_already_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run holding one address of a block (parallel CI jobs on one machine) must not
    make the tunnel fail, nor be disturbed: the next free block is used."""
    monkeypatch.setattr(gateway, "LOOPBACK_OCTETS", (201, 202))
    monkeypatch.setattr(gateway.random, "sample", lambda seq, k: list(seq))
    squatter = socket.create_server(("127.201.0.3", 6379))
    try:
        block, servers = gateway._bind_loopback_block(30, (6379,))
        try:
            assert str(block) == "127.202.0.0/30" and len(servers) == 4
        finally:
            for srv in servers:
                srv.close()
        assert squatter.fileno() != -1  # still ours, still listening
    finally:
        squatter.close()


def test_the_loopback_blocks_are_never_a_simulators(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulator takes a /16 in 127.20-250 (simulator/server.py, reserve_loopback_network) and
    binds its VMs' addresses in it later: a tunnel block there could take a VM's Redis port.
    With every block busy, the message names the blocks tried."""
    assert not set(gateway.LOOPBACK_OCTETS) & {0, *range(20, 251)}

    def busy(*args: object, **kw: object) -> socket.socket:
        raise OSError("in use")

    monkeypatch.setattr(gateway.socket, "create_server", busy)
    with pytest.raises(gateway.GatewayError, match=r"127\.N\.0\.0, N in 2, 3, .*, 254$"):
        gateway._bind_loopback_block(30, (6379,))
