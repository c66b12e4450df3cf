"""Diego's ssh-proxy (behind HAProxy :2222) and the in-container daemon behind it, as a paramiko server.

Transport: exactly what the proxy of the running `ssh_proxy` instance's diego release offered
(`era.py`, `transport.py`): the x/crypto defaults of its pinned commit, the host-key
algorithm of the deployed key only (`ssh-rsa` for BOSH-Lite's RSA key), banner `SSH-2.0-Go`,
no strict-kex, no ext-info.

Authentication is CF's, and only by password (the proxy had no public-key or
keyboard-interactive callback; a failed attempt lists only `password`): user
`cf:<app_guid>/<index>`, password = a one-time code from UAA, exchanged with the `ssh-proxy`
client secret the access instance was deployed with, then checked with the Cloud Controller
(`ssh_access`, which also records the audit event).

Channels are the daemon's: `session` (`session.py`) and `direct-tcpip`; others are refused as
an unknown channel type. Global requests (`tcpip-forward`, keepalives) are answered false.
`direct-tcpip` reaches the app instance's own ports when the target is the container itself
(`localhost` or `127.0.0.1`); the real daemon dialled any target from inside the container,
the simulator refuses other targets (administratively prohibited) because it must not open
connections anywhere but to the simulated instance.

The host key is the deployed `diego.ssh_proxy.host_key`, so the fingerprint the suite checks
against `app_ssh.host_key_fingerprint` is the real pair; without it a generated RSA key is
used (its fingerprint is `host_key_fingerprint()`, for CC's /v2/info fallback).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import paramiko

from simulator.sshproxy.era import SshEra, UnknownEra, era_for
from simulator.sshproxy.session import Container, DaemonSession, SessionRefused
from simulator.sshproxy.transport import After, EraTransport

if TYPE_CHECKING:
    from simulator.world import InstanceView, World

USER = re.compile(r"^cf:([^/]+)/(\d+)$")
OAUTH_CLIENT = "ssh-proxy"
CONTAINER_HOSTS = ("localhost", "127.0.0.1")  # a direct-tcpip target meaning "this container"
DIAL_TIMEOUT = 5.0  # the proxy's dialer timeout (cmd/ssh-proxy/main.go NewHttpClient uses 5 s too)
ACCEPT_POLL = 0.5


def fingerprint_md5(key: paramiko.PKey) -> str:
    digest = hashlib.md5(key.asbytes()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def fingerprint_sha256(key: paramiko.PKey) -> str:
    return base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


# What the era's x/crypto parsed as a host key (golang/crypto@c57d4a7:ssh/keys.go:580-596:
# PEM `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `DSA PRIVATE KEY`; paramiko 4 has no DSA).
_HOST_KEY_TYPES = {"RSA PRIVATE KEY": paramiko.RSAKey, "EC PRIVATE KEY": paramiko.ECDSAKey}


def load_private_key(pem: str) -> paramiko.PKey:
    header = re.search(r"-----BEGIN ([A-Z ]+)-----", pem)
    kind = header.group(1) if header else None
    cls = _HOST_KEY_TYPES.get(kind or "")
    if cls is None:
        raise ValueError(f"diego.ssh_proxy.host_key: the ssh proxy of this era parses PEM "
                         f"{' or '.join(map(repr, _HOST_KEY_TYPES))} keys, not {kind or 'this text'!r}")
    try:
        return cls.from_private_key(io.StringIO(pem))
    except (paramiko.SSHException, ValueError) as exc:
        raise ValueError(f"diego.ssh_proxy.host_key is not a usable {kind}: {exc}") from None


def _warn(message: str) -> None:
    print(f"simulator ssh_proxy: {message}", file=sys.stderr, flush=True)


class _Connection(paramiko.ServerInterface):
    """One client connection: authentication, channel opens and channel requests."""

    def __init__(self, proxy: SshProxy, access: InstanceView, era: SshEra, peer: tuple[str, int]) -> None:
        self.proxy = proxy
        self.access = access
        self.era = era
        self.peer = peer
        self.target: tuple[str, int, str] | None = None  # app_guid, index, process_guid
        self.kinds: dict[int, str] = {}
        self.sessions: dict[int, DaemonSession] = {}
        self.forwards: dict[int, socket.socket] = {}
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- authentication

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        target = self.proxy.authorize(self.access, username, password, self.peer)
        if target is None:
            return paramiko.AUTH_FAILED
        self.target = target
        return paramiko.AUTH_SUCCESSFUL

    # ---------------------------------------------------------------- channels

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session" or kind not in self.era.channel_types:
            return paramiko.OPEN_FAILED_UNKNOWN_CHANNEL_TYPE  # daemon/daemon.go handleNewChannels
        with self.lock:
            self.kinds[chanid] = kind
        return paramiko.OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(self, chanid: int, origin: tuple[str, int],
                                           destination: tuple[str, int]) -> int:
        host, port = destination
        if host not in CONTAINER_HOSTS:
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED  # see the module docstring
        try:
            container = self.container()
        except SessionRefused:
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        if port not in container.ports:  # nothing listens there in the container
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        try:  # dialled before the channel is accepted, as the daemon did
            sock = socket.create_connection((container.address, port), timeout=DIAL_TIMEOUT)
        except OSError:
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        sock.settimeout(None)
        with self.lock:
            self.kinds[chanid] = "direct-tcpip"
            self.forwards[chanid] = sock
        return paramiko.OPEN_SUCCEEDED

    def channel_request(self, channel: paramiko.Channel, kind: str, want_reply: bool,
                        message: paramiko.Message) -> tuple[bool, After]:
        with self.lock:
            if self.kinds.get(channel.chanid) != "session":
                return False, None  # direct-tcpip: ssh.DiscardRequests
            session = self.sessions.get(channel.chanid)
            if session is None:
                session = self.sessions[channel.chanid] = DaemonSession(self.era, channel, self.container)
        return session.request(kind, message)

    def container(self) -> Container:
        assert self.target is not None
        return self.proxy.container(*self.target)

    def forwarded(self, channel: paramiko.Channel) -> socket.socket | None:
        with self.lock:
            return self.forwards.pop(channel.chanid, None)

    def hang_up(self) -> None:
        with self.lock:
            sessions, forwards = list(self.sessions.values()), list(self.forwards.values())
        for session in sessions:
            session.hang_up()
        for sock in forwards:
            sock.close()


def _splice(channel: paramiko.Channel, sock: socket.socket) -> None:
    """Both directions of a direct-tcpip channel. As the daemon's CopyAndClose pair, the end of
    either direction closes both the connection and the channel."""

    def close_both() -> None:
        for action in (sock.close, channel.close):
            try:
                action()
            except (OSError, EOFError, paramiko.SSHException):
                pass

    def pump(read: Callable[[int], bytes], write: Callable[[bytes], object]) -> None:
        try:
            while data := read(32768):
                write(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        close_both()

    threading.Thread(target=pump, args=(channel.recv, sock.sendall), name="ssh-tcpip-out", daemon=True).start()
    threading.Thread(target=pump, args=(sock.recv, channel.sendall), name="ssh-tcpip-in", daemon=True).start()


class SshProxy:
    """`world.components["ssh"]`."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._generated = paramiko.RSAKey.generate(2048)
        self._keys: dict[str, paramiko.PKey] = {}
        self._sock: socket.socket | None = None
        self._closed = threading.Event()
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- host key and era

    def _access(self) -> InstanceView | None:
        running = self.world.running_with("ssh_proxy")
        return running[0] if running else None

    def host_key(self, access: InstanceView | None = None) -> paramiko.PKey:
        access = access or self._access()
        pem = access.prop("diego.ssh_proxy.host_key") if access else None
        if not isinstance(pem, str) or not pem.strip():
            return self._generated
        with self._lock:
            key = self._keys.get(pem)
            if key is None:
                key = self._keys[pem] = load_private_key(pem)
            return key

    def host_key_fingerprint(self) -> str:
        """MD5 fingerprint (`aa:bb:...`), the format of `app_ssh.host_key_fingerprint`."""
        return fingerprint_md5(self.host_key())

    @staticmethod
    def era(access: InstanceView) -> SshEra:
        """The wire surface of the running ssh_proxy: that of its diego release."""
        return era_for(access.release_version("diego"))

    # ---------------------------------------------------------------- listener

    def start(self, host: str = "127.0.0.1") -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(64)
        self._sock = sock
        self.world.publish(f"ssh.{self.world.system_domain}:2222", sock.getsockname()[:2])
        threading.Thread(target=self._accept_loop, name="ssh-proxy-accept", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        with self._lock:
            transports = list(self._transports)
        for t in transports:
            t.close()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closed.is_set():
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, peer), name="ssh-proxy-conn",
                             daemon=True).start()

    def _up(self) -> bool:
        return self.world.component_up("ssh_proxy") and self.world.component_up("haproxy")

    # ---------------------------------------------------------------- a connection

    def _serve(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        access = self._access()
        if access is None or not self._up():
            conn.close()  # nothing listens behind HAProxy :2222
            return
        try:
            era, key = self.era(access), self.host_key(access)
            transport = EraTransport(conn, era, key)
        except (UnknownEra, ValueError, RuntimeError) as exc:
            _warn(f"{access.deployment}/{access.group}/{access.index} cannot serve: {exc}")
            conn.close()
            return
        with self._lock:
            self._transports.add(transport)
        connection = _Connection(self, access, era, peer)
        try:
            try:
                transport.start_server(server=connection)
            except (paramiko.SSHException, EOFError, OSError):
                return
            while transport.is_active() and not self._closed.is_set():
                channel = transport.accept(ACCEPT_POLL)
                if channel is None:
                    continue
                sock = connection.forwarded(channel)
                if sock is not None:
                    _splice(channel, sock)
                # session channels are driven by their requests (_Connection.channel_request)
        finally:
            with self._lock:
                self._transports.discard(transport)
            transport.close()
            connection.hang_up()

    def authorize(self, access: InstanceView, username: str, code: str,
                  peer: tuple[str, int]) -> tuple[str, int, str] | None:
        match = USER.match(username)
        if match is None or access.prop("diego.ssh_proxy.enable_cf_auth") is False:
            return None
        app_guid, index = match.group(1), int(match.group(2))
        uaa = self.world.components.get("uaa")
        cc = self.world.components.get("cc")
        if uaa is None or cc is None:
            return None
        secret = access.prop("diego.ssh_proxy.uaa_secret") or ""
        claims = uaa.exchange_code(code, OAUTH_CLIENT, str(secret))
        if not claims:
            return None
        try:
            process_guid = cc.ssh_access(claims.get("access_token") or claims, app_guid, index)
        except (PermissionError, LookupError, ValueError):
            return None
        self._log(app_guid, index, f"Successful remote access by {peer[0]}:{peer[1]}")
        return app_guid, index, str(process_guid)

    def container(self, app_guid: str, index: int, process_guid: str) -> Container:
        """The app instance a session runs in, or SessionRefused with the message the client sees."""
        faults = self.world.faults
        if faults.active("break_ssh", app_guid) or faults.active("break_ssh", self._app_name(app_guid)):
            raise SessionRefused("Error: ssh session failed: connection to the container was refused\n")
        diego = self.world.components.get("diego")
        try:
            found = diego.instance_container(process_guid, index)
        except Exception:
            raise SessionRefused(f"Error: instance {index} of the app is not running\n") from None
        # `localhost` in the container is the container's own address, its ports the LRP's
        # container ports (8080), not the external ones garden maps on the cell
        return Container(home=found.home, env=found.env, address=found.address, ports=found.ports)

    def _log(self, app_guid: str, index: int, message: str) -> None:
        logs = self.world.components.get("logs")
        if logs is not None:
            try:
                logs.emit(app_guid, "SSH", str(index), message, "OUT")
            except Exception:
                pass

    def _app_name(self, app_guid: str) -> str | None:
        diego = self.world.components.get("diego")
        name = diego.app_name(app_guid) if diego is not None and hasattr(diego, "app_name") else None
        if name is None:
            cc = self.world.components.get("cc")
            app = cc.app_by_guid(app_guid) if cc is not None and hasattr(cc, "app_by_guid") else None
            name = getattr(app, "name", None)
        return name


def attach(world: World) -> None:
    proxy = SshProxy(world)
    proxy.start()
    world.components["ssh"] = proxy
