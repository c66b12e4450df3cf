"""The stemcell's sshd on each VM address, with the users the agent's `ssh` action sets up.

`bosh ssh` asks the director for an `ssh` task (`POST /deployments/:d/ssh`, command `setup`):
the agent on each targeted VM creates the user `bosh_<suffix>` with the public key the CLI
generated, and answers with the VM's address (and, from bosh-agent 3977ec0e3 of
2015-09-17 on, `host_public_key`). The CLI then runs OpenSSH against `<VM ip>:22` with that
key, and finally asks for `cleanup`, which deletes the users matching `user_regex`.

Here one paramiko server per VM address accepts exactly those users with exactly those keys
(public-key auth only, as the stemcell's sshd with `PasswordAuthentication no`) and runs
`exec` requests with `/bin/sh -c` in the VM's directory (vmfs.py). It listens on the VM's
own address, port 22, which only exists where the simulator owns the 10.244.0.0/16 network
(`--vm-network-native`, inside a network namespace a test made); elsewhere the users are
still set up, as the agent would, but nothing listens. Each VM has its own RSA host key.
Not era-exact in one respect: paramiko offers rsa-sha2-512/256 besides ssh-rsa for the VM's
RSA key, where the 2015 stemcell's OpenSSH 6.6 offered ssh-rsa (and its ECDSA and Ed25519
keys): a client that refuses ssh-rsa still gets in here (docs/architecture.md, Era: BOSH director).
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import paramiko

from simulator.sshexec import ExecRequests, exec_on_channel

if TYPE_CHECKING:
    from simulator.director.vmfs import VmDisks
    from simulator.world import InstanceView

SSH_PORT = 22
SESSION_WAIT = 30.0
CLIENT_CLOSE_WAIT = 5.0
SERVER_VERSION = "SSH-2.0-OpenSSH_6.6.1p1 Ubuntu-2ubuntu2"  # trusty's sshd banner


def _key_blob(public_key: str) -> bytes | None:
    """The key blob of an authorized_keys line (`ssh-rsa AAAA... comment`)."""
    parts = public_key.split()
    if len(parts) < 2:
        return None
    try:
        return base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass
class _Vm:
    view: InstanceView
    host_key: paramiko.RSAKey
    users: dict[str, bytes] = field(default_factory=dict)  # user -> key blob
    sock: socket.socket | None = None


class _Session(ExecRequests, paramiko.ServerInterface):
    def __init__(self, vm: _Vm) -> None:
        super().__init__()
        self.vm = vm
        self.user: str | None = None

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        blob = self.vm.users.get(username)
        if blob is not None and blob == key.asbytes():
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and self.user is not None:
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class VmSshd:
    """All VMs' sshds. `listen=False`: users are managed but no socket is opened."""

    def __init__(self, disks: VmDisks, listen: bool) -> None:
        self.disks = disks
        self.listen = listen
        self._vms: dict[str, _Vm] = {}  # instance id -> VM
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def _vm(self, view: InstanceView) -> _Vm:
        with self._lock:
            vm = self._vms.get(view.id)
            if vm is None:
                vm = self._vms[view.id] = _Vm(view, paramiko.RSAKey.generate(2048))
            vm.view = view
            return vm

    def host_public_key(self, view: InstanceView) -> str:
        """`ssh-rsa AAAA...`: what the agent reads from /etc/ssh/ssh_host_rsa_key.pub."""
        key = self._vm(view).host_key
        return f"{key.get_name()} {key.get_base64()}"

    # ---------------------------------------------------------------- the agent's ssh action

    def setup(self, view: InstanceView, user: str, public_key: str) -> None:
        blob = _key_blob(public_key)
        if not user or blob is None:
            raise ValueError("ssh setup needs a user and a public key")
        vm = self._vm(view)
        with self._lock:
            vm.users[user] = blob
        if self.listen:
            self._ensure_listening(vm)

    def cleanup(self, view: InstanceView, user_regex: str) -> None:
        pattern = re.compile(user_regex or "^$")
        vm = self._vm(view)
        with self._lock:
            for user in [u for u in vm.users if pattern.search(u)]:
                del vm.users[user]

    # ---------------------------------------------------------------- listeners

    def _ensure_listening(self, vm: _Vm) -> None:
        with self._lock:
            if vm.sock is not None or not vm.view.ips:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((vm.view.ips[0], SSH_PORT))
            except OSError:
                sock.close()
                raise
            sock.listen(16)
            vm.sock = sock
        threading.Thread(target=self._accept_loop, args=(vm, sock), name=f"vm-sshd-{vm.view.ips[0]}",
                         daemon=True).start()

    def forget(self, view: InstanceView) -> None:
        """The VM is gone (instance deleted): its users, host key and listener with it."""
        with self._lock:
            vm = self._vms.pop(view.id, None)
        if vm is not None and vm.sock is not None:
            try:
                vm.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            vm.sock.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            socks = [vm.sock for vm in self._vms.values() if vm.sock is not None]
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept_loop(self, vm: _Vm, sock: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(vm, conn), name="vm-sshd-conn", daemon=True).start()

    def _serve(self, vm: _Vm, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.local_version = SERVER_VERSION
        try:
            transport.add_server_key(vm.host_key)
            session = _Session(vm)
            try:
                transport.start_server(server=session)
            except (paramiko.SSHException, EOFError, OSError):
                return
            channel = transport.accept(SESSION_WAIT)
            if channel is None or session.user is None:
                return
            if not session.requested.wait(SESSION_WAIT):
                channel.close()
                return
            self._run(vm, session, channel)
            # the client closes the connection once it has the exit status; closing it first
            # would make OpenSSH report a reset (exit 255) after a successful command
            deadline = time.monotonic() + CLIENT_CLOSE_WAIT
            while transport.is_active() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            transport.close()

    def _run(self, vm: _Vm, session: _Session, channel: paramiko.Channel) -> None:
        home = self.disks.home(vm.view)
        env = {"HOME": str(home), "USER": str(session.user), "LOGNAME": str(session.user),
               "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "SHELL": "/bin/sh"}
        argv = ["/bin/sh", "-c", session.command.decode("utf-8", "replace")] if session.command is not None \
            else ["/bin/sh"]
        exec_on_channel(channel, argv, home, env)
