"""ssh_exec against a current paramiko test server (fingerprint forms, auth, connect failures, exec
results) and against the era's real Go SSH server (the era-sshd oracle of diego 0.1434.0 and
0.1454.0, which offers only `ssh-rsa` host keys): the same client must reach both."""

from __future__ import annotations

import base64
import socket
import threading

import paramiko
import pytest

from helpers.net import Resolver
from helpers.ssh import (
    Negotiated,
    SshAuthError,
    SshConnectError,
    SshHostKeyError,
    fingerprints,
    ssh_exec,
    verify_fingerprint,
)
from tests.oracles.era_sshd import era_sshd

USER, CODE = "cf:6064d98a-95e6-400b-bc03-be65e6d59622/1", "one-time-code"


class _Server(paramiko.ServerInterface):
    def __init__(self):
        self.command: bytes | None = None
        self.exec_event = threading.Event()

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        return paramiko.AUTH_SUCCESSFUL if (username, password) == (USER, CODE) else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        self.command = command
        self.exec_event.set()
        return True


class SshServer:
    """Accepts connections; for an exec of `CMD` answers stdout 'out:CMD', stderr 'err', exit 3."""

    def __init__(self, key: paramiko.PKey, disabled_algorithms: dict[str, list[str]] | None = None):
        self.key = key
        self.disabled_algorithms = disabled_algorithms
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _handle(self, conn):
        t = paramiko.Transport(conn, disabled_algorithms=self.disabled_algorithms)
        t.add_server_key(self.key)
        server = _Server()
        try:
            t.start_server(server=server)
            chan = t.accept(5)
            if chan is None or not server.exec_event.wait(5):
                return
            chan.sendall(b"out:" + server.command)
            chan.sendall_stderr(b"err")
            chan.send_exit_status(3)
            chan.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            t.close()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def host_key():
    return paramiko.ECDSAKey.generate()


@pytest.fixture
def ssh_server(host_key):
    srv = SshServer(host_key)
    yield srv
    srv.close()


def _resolver(srv: SshServer) -> Resolver:
    return Resolver({"ssh.bosh-lite.com:2222": f"127.0.0.1:{srv.port}"}, loopback_only=True)


@pytest.mark.parametrize("form", ["md5", "sha1", "sha256"])
def test_exec_with_each_fingerprint_form(ssh_server, host_key, form):
    fp = fingerprints(host_key.asbytes())[form]
    assert len(fp) == {"md5": 47, "sha1": 59, "sha256": 43}[form]
    r = ssh_exec("ssh.bosh-lite.com:2222", fp, USER, CODE, "echo $INSTANCE_INDEX", _resolver(ssh_server), timeout=10)
    assert (r.exit_status, r.stdout, r.stderr) == (3, "out:echo $INSTANCE_INDEX", "err")


def test_host_key_mismatch_and_empty_fingerprint(ssh_server):
    other = fingerprints(b"another key")["md5"]
    with pytest.raises(SshHostKeyError, match="mismatch"):
        ssh_exec("ssh.bosh-lite.com:2222", other, USER, CODE, "true", _resolver(ssh_server), timeout=10)
    with pytest.raises(SshHostKeyError, match="Unable to verify identity of host"):
        ssh_exec("ssh.bosh-lite.com:2222", "", USER, CODE, "true", _resolver(ssh_server), timeout=10)


def test_auth_failure_is_distinct_and_redacted(ssh_server, host_key):
    fp = fingerprints(host_key.asbytes())["sha256"]
    with pytest.raises(SshAuthError) as ei:
        ssh_exec("ssh.bosh-lite.com:2222", fp, USER, "wrong-code-xyz", "true", _resolver(ssh_server), timeout=10)
    assert USER in str(ei.value) and "wrong-code-xyz" not in str(ei.value)


def test_connect_failure():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(SshConnectError, match="cannot connect"):
        ssh_exec(f"127.0.0.1:{port}", "x" * 47, USER, CODE, "true", Resolver(), timeout=2)
    with pytest.raises(SshConnectError, match="host:port"):
        ssh_exec("no-port", "x" * 47, USER, CODE, "true", Resolver(), timeout=2)


def test_verify_fingerprint_rules(host_key):
    blob = host_key.asbytes()
    fps = fingerprints(blob)
    verify_fingerprint(blob, fps["md5"].upper())  # hex forms are case-insensitive
    with pytest.raises(SshHostKeyError, match="Unsupported host key fingerprint format"):
        verify_fingerprint(blob, "abc")
    with pytest.raises(SshHostKeyError):
        verify_fingerprint(blob, fps["sha256"].lower() if fps["sha256"] != fps["sha256"].lower() else "A" * 43)


# ------------------------------------------------------------------ a current server


# What a server of today may have dropped: SHA-1 signatures, SHA-1 key exchanges and MACs.
MODERN_ONLY = {"keys": ["ssh-rsa"], "kex": ["diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1",
                                            "diffie-hellman-group-exchange-sha1"],
               "macs": ["hmac-sha1", "hmac-sha1-96", "hmac-md5", "hmac-md5-96"]}


def test_a_modern_only_rsa_server_negotiates_sha2():
    key = paramiko.RSAKey.generate(2048)
    srv = SshServer(key, disabled_algorithms=MODERN_ONLY)
    try:
        r = ssh_exec("ssh.bosh-lite.com:2222", fingerprints(key.asbytes())["sha256"], USER, CODE, "x",
                     _resolver(srv), timeout=10)
    finally:
        srv.close()
    assert (r.exit_status, r.stdout) == (3, "out:x")
    assert r.negotiated == Negotiated("curve25519-sha256@libssh.org", "rsa-sha2-512", "aes128-ctr", "hmac-sha2-256")


def test_handshake_failure_names_both_offers():
    key = paramiko.ECDSAKey.generate()
    srv = SshServer(key, disabled_algorithms={"ciphers": ["aes128-ctr", "aes192-ctr", "aes256-ctr",
                                                          "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]})
    try:
        with pytest.raises(SshConnectError) as failed:
            ssh_exec("ssh.bosh-lite.com:2222", fingerprints(key.asbytes())["md5"], USER, CODE, "x",
                     _resolver(srv), timeout=10)
    finally:
        srv.close()
    message = str(failed.value)
    assert "ssh handshake with ssh.bosh-lite.com:2222 failed" in message
    assert "server offers host keys ecdsa-sha2-nistp256" in message and "this client offers host keys" in message


# ------------------------------------------------------------------ the era's real server


# What the client negotiates with each era proxy (../shared/oracles/README.md, paramiko rows)
ERA_NEGOTIATED = {
    "c57d4a7": Negotiated("ecdh-sha2-nistp256", "ssh-rsa", "aes128-ctr", "hmac-sha1"),
    "c8b9e63": Negotiated("curve25519-sha256@libssh.org", "ssh-rsa", "aes128-ctr", "hmac-sha2-256"),
}
ERA_USER, ERA_PASSWORD = "cf:3f1f5e6c-1111-4c5e-9d3a-era000000000/1", "era-one-time-code"


@pytest.fixture(scope="module", params=sorted(ERA_NEGOTIATED))
def era_server(request):
    with era_sshd(request.param, user=ERA_USER, password=ERA_PASSWORD) as server:
        yield server


@pytest.mark.slow
@pytest.mark.filterwarnings("error")  # no SHA-1 / ssh-rsa deprecation noise to hide
def test_exec_against_the_era_proxy_transport(era_server):
    r = ssh_exec(era_server.endpoint, era_server.fingerprint_md5, ERA_USER, ERA_PASSWORD,
                 "echo out; echo err >&2; exit 3", Resolver(), timeout=20)
    assert (r.exit_status, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert r.negotiated == ERA_NEGOTIATED[era_server.commit]


@pytest.mark.slow
def test_every_fingerprint_form_of_the_era_host_key(era_server):
    blob = base64.b64decode(era_server.host_key.split()[1])
    forms = fingerprints(blob)
    assert (forms["md5"], forms["sha256"]) == (era_server.fingerprint_md5, era_server.fingerprint_sha256)
    for form in ("md5", "sha1", "sha256"):
        r = ssh_exec(era_server.endpoint, forms[form], ERA_USER, ERA_PASSWORD, "true", Resolver(), timeout=20)
        assert r.exit_status == 0, form


@pytest.mark.slow
def test_era_proxy_refuses_a_wrong_password_clearly(era_server):
    with pytest.raises(SshAuthError) as refused:
        ssh_exec(era_server.endpoint, era_server.fingerprint_md5, ERA_USER, "wrong-code-4711", "true", Resolver(),
                 timeout=20)
    message = str(refused.value)
    assert ERA_USER in message and era_server.endpoint in message and "wrong-code-4711" not in message


@pytest.mark.slow
def test_era_host_key_mismatch_names_expected_and_seen(era_server):
    other = fingerprints(paramiko.RSAKey.generate(2048).asbytes())["md5"]
    with pytest.raises(SshHostKeyError) as mismatch:
        ssh_exec(era_server.endpoint, other, ERA_USER, ERA_PASSWORD, "true", Resolver(), timeout=20)
    message = str(mismatch.value)
    assert f"expected {other}" in message and era_server.fingerprint_md5 in message
    assert era_server.endpoint in message
