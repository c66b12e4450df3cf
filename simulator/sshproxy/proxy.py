"""Diego's ssh-proxy (behind HAProxy :2222) as a paramiko server.

Authentication is CF's: user `cf:<app_guid>/<index>`, password = a one-time code from UAA,
exchanged with the `ssh-proxy` client secret the access instance was deployed with, then
checked with the Cloud Controller (`ssh_access`, which also records the audit event). The
session does what the container's sshd would: `exec` runs the command with bash in the
instance's directory and environment and returns its exit status; a `shell` runs bash.

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
import threading
from typing import TYPE_CHECKING, Any

import paramiko

from simulator import processes

if TYPE_CHECKING:
    from simulator.world import InstanceView, World

SERVER_VERSION = "SSH-2.0-diego-ssh-proxy"
USER = re.compile(r"^cf:([^/]+)/(\d+)$")
OAUTH_CLIENT = "ssh-proxy"
SESSION_WAIT = 30.0


def fingerprint_md5(key: paramiko.PKey) -> str:
    digest = hashlib.md5(key.asbytes()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def fingerprint_sha256(key: paramiko.PKey) -> str:
    return base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def load_private_key(pem: str) -> paramiko.PKey:
    errors = []
    for cls in (paramiko.RSAKey, paramiko.ECDSAKey, paramiko.Ed25519Key):
        try:
            return cls.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{cls.__name__}: {exc}")
    raise ValueError("diego.ssh_proxy.host_key is not a usable private key (" + "; ".join(errors) + ")")


class _Session(paramiko.ServerInterface):
    """Per-connection authentication and channel requests."""

    def __init__(self, proxy: SshProxy, access: InstanceView, peer: tuple[str, int]) -> None:
        self.proxy = proxy
        self.access = access
        self.peer = peer
        self.target: tuple[str, int, str] | None = None  # app_guid, index, process_guid
        self.command: bytes | None = None
        self.shell = False
        self.requested = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        target = self.proxy.authorize(self.access, username, password, self.peer)
        if target is None:
            return paramiko.AUTH_FAILED
        self.target = target
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and self.target is not None:
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.command = command
        self.requested.set()
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.shell = True
        self.requested.set()
        return True

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes, value: bytes) -> bool:
        return True


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

    # ---------------------------------------------------------------- host key

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
        transport = paramiko.Transport(conn)
        transport.local_version = SERVER_VERSION
        with self._lock:
            self._transports.add(transport)
        try:
            transport.add_server_key(self.host_key(access))
            session = _Session(self, access, peer)
            try:
                transport.start_server(server=session)
            except (paramiko.SSHException, EOFError, OSError):
                return
            channel = transport.accept(SESSION_WAIT)
            if channel is None or session.target is None:
                return
            if not session.requested.wait(SESSION_WAIT):
                channel.close()
                return
            self._run(channel, session)
        finally:
            with self._lock:
                self._transports.discard(transport)
            transport.close()

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

    def _run(self, channel: paramiko.Channel, session: _Session) -> None:
        assert session.target is not None
        app_guid, index, process_guid = session.target
        faults = self.world.faults
        if faults.active("break_ssh", app_guid) or faults.active("break_ssh", self._app_name(app_guid)):
            self._fail(channel, "Error: ssh session failed: connection to the container was refused\n")
            return
        diego = self.world.components.get("diego")
        try:
            cwd, env = diego.instance_dir_env(process_guid, index)
        except Exception:
            self._fail(channel, f"Error: instance {index} of the app is not running\n")
            return
        argv = ["/bin/bash", "-c", session.command.decode("utf-8", "replace")] if session.command is not None \
            else ["/bin/bash", "-l"]

        def on_chunk(stream: str, data: bytes) -> None:
            try:
                (channel.sendall if stream == "OUT" else channel.sendall_stderr)(data)
            except (OSError, EOFError, paramiko.SSHException):
                pass

        proc = processes.spawn(argv, cwd, env, on_chunk=on_chunk, stdin=True)
        threading.Thread(target=self._pump_stdin, args=(channel, proc), daemon=True).start()
        code = proc.wait()
        status = code if code is not None and code >= 0 else 128 + abs(code or 9)
        try:
            channel.send_exit_status(status)
            channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        channel.close()

    @staticmethod
    def _pump_stdin(channel: paramiko.Channel, proc: processes.ManagedProcess) -> None:
        try:
            while proc.alive:
                data = channel.recv(32768)
                if not data:
                    break
                proc.write_stdin(data)
        except (OSError, EOFError, paramiko.SSHException, ValueError):
            pass
        proc.close_stdin()

    @staticmethod
    def _fail(channel: paramiko.Channel, message: str) -> None:
        try:
            channel.sendall_stderr(message.encode())
            channel.send_exit_status(1)
            channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        channel.close()


def attach(world: World) -> None:
    proxy = SshProxy(world)
    proxy.start()
    world.components["ssh"] = proxy
