"""ssh_exec against a paramiko test server: fingerprint forms, auth, connect failures, exec results."""

from __future__ import annotations

import socket
import threading

import paramiko
import pytest

from helpers.net import Resolver
from helpers.ssh import (
    SshAuthError,
    SshConnectError,
    SshHostKeyError,
    fingerprints,
    ssh_exec,
    verify_fingerprint,
)

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

    def __init__(self, key: paramiko.PKey):
        self.key = key
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
        t = paramiko.Transport(conn)
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
