"""Run one command in an app instance through the Diego ssh-proxy (paramiko, password auth).

Why not `cf ssh`: we want the exit status and both output streams as data, a connection that
goes through the resolve map, and distinct errors for "cannot connect", "host key does not
match the advertised fingerprint" and "authentication refused" (a one-time code is single
use, so callers must know which one happened before retrying with a fresh code).
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paramiko

from helpers.net import REDACTOR, HelperError, Resolver, redacting_logger

if TYPE_CHECKING:
    from helpers.cf import CloudFoundry

__all__ = [
    "SshAuthError",
    "SshConnectError",
    "SshError",
    "SshHostKeyError",
    "SshResult",
    "app_ssh_exec",
    "fingerprints",
    "ssh_exec",
    "verify_fingerprint",
]

log = redacting_logger(__name__)


class SshError(HelperError):
    """SSH failed for a reason other than the specific ones below (e.g. command timed out)."""


class SshConnectError(SshError):
    """TCP connect or SSH handshake failed."""


class SshHostKeyError(SshError):
    """The server's host key does not match the advertised fingerprint (or none was advertised)."""


class SshAuthError(SshError):
    """The proxy refused our user/one-time code."""


@dataclass(frozen=True)
class SshResult:
    exit_status: int
    stdout: str
    stderr: str


def fingerprints(key_blob: bytes) -> dict[str, str]:
    """The three fingerprint forms the cf CLI accepts, for the SSH wire-format public key."""
    md5 = hashlib.md5(key_blob).hexdigest()
    sha1 = hashlib.sha1(key_blob).hexdigest()
    return {
        "md5": ":".join(md5[i:i + 2] for i in range(0, len(md5), 2)),
        "sha1": ":".join(sha1[i:i + 2] for i in range(0, len(sha1), 2)),
        "sha256": base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("="),
    }


def verify_fingerprint(key_blob: bytes, expected: str | None) -> None:
    """Raise SshHostKeyError unless `expected` (47 MD5 / 59 SHA1 / 43 SHA256 chars) matches."""
    fp = (expected or "").strip()
    if not fp:
        raise SshHostKeyError("Unable to verify identity of host: no host key fingerprint advertised")
    forms = fingerprints(key_blob)
    if len(fp) == 47:
        ok, actual = fp.lower() == forms["md5"], forms["md5"]
    elif len(fp) == 59:
        ok, actual = fp.lower() == forms["sha1"], forms["sha1"]
    elif len(fp) == 43:
        ok, actual = fp == forms["sha256"], forms["sha256"]
    else:
        raise SshHostKeyError(f"Unsupported host key fingerprint format ({len(fp)} characters): {fp!r}")
    if not ok:
        raise SshHostKeyError(f"host key fingerprint mismatch: expected {fp}, server presented {actual}")


def ssh_exec(endpoint: str, fingerprint: str | None, user: str, password: str, command: str,
             resolver: Resolver | None = None, timeout: float = 30.0) -> SshResult:
    """Connect to `endpoint` ("host:port") via the resolver, check the host key, exec `command`."""
    REDACTOR.register(password)
    host, _, port_s = endpoint.rpartition(":")
    if not host or not port_s.isdigit():
        raise SshConnectError(f"ssh endpoint {endpoint!r} must be host:port")
    deadline = time.monotonic() + timeout
    try:
        sock = (resolver or Resolver()).create_connection(host, int(port_s), timeout=timeout)
    except OSError as e:
        raise SshConnectError(f"cannot connect to ssh endpoint {endpoint}: {e}")
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    transport.auth_timeout = timeout
    try:
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise SshConnectError(f"ssh handshake with {endpoint} failed: {e}")
        verify_fingerprint(transport.get_remote_server_key().asbytes(), fingerprint)
        try:
            transport.auth_password(user, password)
        except paramiko.BadAuthenticationType as e:
            raise SshAuthError(f"ssh {endpoint} does not accept password auth for {user} (allowed: {e.allowed_types})")
        except paramiko.AuthenticationException as e:
            raise SshAuthError(f"ssh authentication failed for {user} at {endpoint}: {e or 'rejected'}")
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise SshConnectError(f"ssh connection to {endpoint} lost during authentication: {e}")
        try:
            chan = transport.open_session(timeout=max(1.0, deadline - time.monotonic()))
            chan.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise SshError(f"ssh {endpoint} as {user}: cannot run command: {e}")
        return _collect(chan, deadline, endpoint, user)
    finally:
        transport.close()


def _collect(chan: paramiko.Channel, deadline: float, endpoint: str, user: str) -> SshResult:
    out, err = bytearray(), bytearray()
    chan.settimeout(0.1)
    while True:
        progressed = False
        for ready, recv, buf in ((chan.recv_ready, chan.recv, out), (chan.recv_stderr_ready, chan.recv_stderr, err)):
            if ready():
                try:
                    buf.extend(recv(65536))
                    progressed = True
                except TimeoutError:
                    pass
        if not progressed:
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            if chan.closed and chan.eof_received:
                break
            if time.monotonic() >= deadline:
                raise SshError(f"ssh {endpoint} as {user}: command still running at the timeout; "
                               f"output so far: {bytes(out[-200:])!r}")
            chan.status_event.wait(0.02)
    status = chan.recv_exit_status() if chan.exit_status_ready() else -1
    return SshResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def app_ssh_exec(cf: CloudFoundry, app_guid: str, index: int, command: str, resolver: Resolver | None = None,
                 timeout: float | None = None) -> SshResult:
    """`cf ssh <app> -i <index> -c <command>` over the API: fresh one-time code, user cf:<guid>/<index>."""
    endpoint, fp, _client = cf.ssh_endpoint()
    code = cf.ssh_code()
    limit = cf.timeout("ssh") if timeout is None else timeout
    return ssh_exec(endpoint, fp, f"cf:{app_guid}/{index}", code, command, resolver or cf.resolver, limit)

