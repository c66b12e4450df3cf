"""Run one command in an app instance through the Diego ssh-proxy (paramiko, password auth).

Why not `cf ssh`: we want the exit status and both output streams as data, a connection that
goes through the resolve map, and distinct errors for "cannot connect", "host key does not
match the advertised fingerprint" and "authentication refused" (a one-time code is single
use, so callers must know which one happened before retrying with a fresh code).

Algorithms: the same client must reach the Diego ssh proxy of 2015-16 (a Go x/crypto server
that offers only `ssh-rsa` as host-key algorithm, SHA-1 signatures, and at diego 0.1434.0
only `hmac-sha1`/`hmac-sha1-96` MACs) and any current server. So it offers paramiko's
modern lists in paramiko's order (the first common name wins, so a current server still
negotiates e.g. `rsa-sha2-512` or `ssh-ed25519`) and keeps, last, exactly the legacy names
the era needs: `ssh-rsa` among host-key algorithms and `hmac-sha1`/`hmac-sha1-96` among MACs.
What neither needs is not offered (`DISABLED_ALGORITHMS`). Accepting an `ssh-rsa` (SHA-1)
host-key signature is safe enough here because the key itself is pinned by the fingerprint
CC advertises. paramiko 5 removed `ssh-rsa`, hence `paramiko>=3.5,<5`. docs/architecture.md
"Era: Diego ssh proxy" has the negotiated results.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paramiko

from helpers.net import REDACTOR, HelperError, Resolver, redacting_logger

if TYPE_CHECKING:
    from helpers.cf import CloudFoundry

__all__ = [
    "DISABLED_ALGORITHMS",
    "Negotiated",
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

# Offered by paramiko but needed neither by the era proxy nor by a current server.
DISABLED_ALGORITHMS: dict[str, list[str]] = {
    "ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
    "macs": ["hmac-md5", "hmac-md5-96"],
    "kex": ["diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1"],
}
ERA_HOST_KEY_ALGORITHM = "ssh-rsa"  # the only one the 2015-16 Diego ssh proxy offered for its RSA key


class SshError(HelperError):
    """SSH failed for a reason other than the specific ones below (e.g. command timed out)."""


class SshConnectError(SshError):
    """TCP connect or SSH handshake failed."""


class SshHostKeyError(SshError):
    """The server's host key does not match the advertised fingerprint (or none was advertised)."""


class SshAuthError(SshError):
    """The proxy refused our user/one-time code."""


@dataclass(frozen=True)
class Negotiated:
    """What the handshake agreed on (client-to-server cipher and MAC; the era servers use the
    same lists both ways)."""

    kex: str
    host_key: str
    cipher: str
    mac: str

    def __str__(self) -> str:
        return f"kex {self.kex}, host key {self.host_key}, cipher {self.cipher}, mac {self.mac}"


@dataclass(frozen=True)
class SshResult:
    exit_status: int  # -1 when the server sent none (e.g. the command was killed by a signal)
    stdout: str
    stderr: str
    negotiated: Negotiated | None = None


class _ClientTransport(paramiko.Transport):
    """Records the server's KEXINIT offer and the agreed key exchange, so that a failed or
    successful handshake can say what was negotiated (paramiko forgets the kex name)."""

    server_offer: dict[str, list[str]] | None = None
    agreed_kex: str | None = None

    def _parse_kex_init(self, m: paramiko.Message) -> None:
        try:
            self.server_offer = self._really_parse_kex_init(paramiko.Message(m.asbytes()))
        except Exception:  # a malformed offer is paramiko's to report below
            self.server_offer = None
        super()._parse_kex_init(m)
        # not every kex class carries its name (KexCurve25519 does not): look the class up
        self.agreed_kex = next((name for name, cls in self._kex_info.items()
                                if type(self.kex_engine) is cls and name in self.preferred_kex), None)

    def negotiated(self) -> Negotiated:
        return Negotiated(self.agreed_kex or "?", self.host_key_type or "?", self.local_cipher or "?",
                          self.local_mac or "?")

    def offers(self) -> str:
        """Both sides' host-key and kex offers, for a handshake failure message."""
        theirs = self.server_offer or {}
        return (f"server offers host keys {','.join(theirs.get('server_key_algo_list', [])) or '?'} "
                f"and kex {','.join(theirs.get('kex_algo_list', [])) or '?'}; this client offers host keys "
                f"{','.join(self.preferred_keys)} and kex {','.join(self.preferred_kex)}")


def client_transport(sock: socket.socket | tuple[str, int]) -> _ClientTransport:
    """A paramiko client transport with this module's algorithm choice (see the module docstring)."""
    transport = _ClientTransport(sock, disabled_algorithms=DISABLED_ALGORITHMS)
    if ERA_HOST_KEY_ALGORITHM not in transport.preferred_keys:
        transport.close()
        raise SshConnectError(f"paramiko {paramiko.__version__} cannot verify {ERA_HOST_KEY_ALGORITHM} host keys, "
                              "the only kind the Diego ssh proxy of 2015-16 offers: install paramiko>=3.5,<5")
    return transport


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
    try:
        transport = client_transport(sock)
    except BaseException:
        sock.close()
        raise
    transport.banner_timeout = timeout
    transport.auth_timeout = timeout
    try:
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise SshConnectError(f"ssh handshake with {endpoint} failed: {e} ({transport.offers()})")
        negotiated = transport.negotiated()
        log.debug("ssh %s: %s", endpoint, negotiated)
        try:
            verify_fingerprint(transport.get_remote_server_key().asbytes(), fingerprint)
        except SshHostKeyError as e:
            raise SshHostKeyError(f"ssh {endpoint}: {e}")
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
        return _collect(chan, deadline, endpoint, user, negotiated)
    finally:
        transport.close()


def _collect(chan: paramiko.Channel, deadline: float, endpoint: str, user: str,
             negotiated: Negotiated) -> SshResult:
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
    return SshResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), negotiated)


def app_ssh_exec(cf: CloudFoundry, app_guid: str, index: int, command: str, resolver: Resolver | None = None,
                 timeout: float | None = None) -> SshResult:
    """`cf ssh <app> -i <index> -c <command>` over the API: fresh one-time code, user cf:<guid>/<index>."""
    endpoint, fp, _client = cf.ssh_endpoint()
    code = cf.ssh_code()
    limit = cf.timeout("ssh") if timeout is None else timeout
    return ssh_exec(endpoint, fp, f"cf:{app_guid}/{index}", code, command, resolver or cf.resolver, limit)

