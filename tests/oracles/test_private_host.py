"""The private host itself: private loopback and hosts file, relays, and the oracle cache."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fixtures import oracles as binaries
from tests.oracles.privatehost import FRONT_ADDRESS, PrivateHost

pytestmark = pytest.mark.slow


def test_oracle_binaries_decompress_and_match_their_published_digests():
    for name in ("bosh", "cf", "era-sshd-c57d4a7"):
        path = binaries.binary(name)
        assert path.is_file() and path.stat().st_mode & 0o111
        assert binaries._sha256(path) == binaries.KNOWN[name].sha256


def test_namespace_has_its_own_hosts_file_and_loopback(tmp_path: Path):
    before = Path("/etc/hosts").read_text()
    with PrivateHost(tmp_path, hostnames={"api.example.test": FRONT_ADDRESS}) as host:
        inside = host.run(["cat", "/etc/hosts"])
        assert f"{FRONT_ADDRESS} api.example.test" in inside.stdout, inside.describe()
        addrs = host.run(["ip", "-o", "addr", "show", "dev", "lo"])
        assert f"{FRONT_ADDRESS}/32" in addrs.stdout, addrs.describe()
        # a port bound inside is not bound outside: bind the same port here
        listener = host.spawn(["python3", "-c",
                               "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen();"
                               "print(s.getsockname()[1], flush=True); time.sleep(30)"])
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        outside = socket.socket()
        try:
            outside.bind(("127.0.0.1", port))  # would fail with EADDRINUSE if the namespace leaked
        finally:
            outside.close()
    assert Path("/etc/hosts").read_text() == before


def test_relay_splices_a_well_known_address_to_a_loopback_port(tmp_path: Path):
    with PrivateHost(tmp_path) as host:
        server = host.spawn(["python3", "-c",
                             "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen();"
                             "print(s.getsockname()[1], flush=True); c,_=s.accept(); c.sendall(c.recv(100)[::-1]);"
                             "c.close()"])
        assert server.stdout is not None
        port = int(server.stdout.readline())
        host.relay({f"{FRONT_ADDRESS}:443": f"127.0.0.1:{port}"})
        out = host.run(["python3", "-c",
                        f"import socket; c=socket.create_connection(('{FRONT_ADDRESS}',443)); c.sendall(b'abc');"
                        "print(c.recv(100).decode())"])
        assert out.stdout.strip() == "cba", out.describe()


def test_real_bosh_cli_reaches_the_simulator_director_by_its_bosh_lite_address(oracle_env):
    env = oracle_env(preload=("v0",))
    result = env.bosh("env", "--json")
    assert result.returncode == 0, result.describe()
    assert "Bosh Lite Director" in result.stdout
    assert env.config["bosh"]["password"] not in result.output
