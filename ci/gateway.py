"""Run a command whose Redis connections reach the deployment's network through an SSH gateway.

    python -m ci.gateway --config CONFIG -- COMMAND [ARGS...]

A CI worker cannot reach a BOSH-Lite's containers (10.244.x.y) nor, in general, a
director's private network; a host in that network can (the BOSH-Lite VM itself, the
director VM, a jumpbox), and `bosh ssh --gateway_host` used the same path. The promotion
checks (write a sentinel before the deploy and read it after, replication, auth) then run
unchanged, in the task, with the suite's own code: a BOSH errand would need a second
implementation of them packaged as a release job, and its VM in every candidate manifest.

With `REDIS_GATEWAY` set, every address of `REDIS_NETWORK` (at most a /22) gets a loopback
listener per port of `REDIS_PORTS`; a connection to one opens a `direct-tcpip` channel
through the gateway to the same address and port. The command gets a copy of the config
(`$CONFIG`, mode 0600) whose resolve map sends `REDIS_NETWORK` to those listeners (a longer
prefix than any entry it had, so it wins). Without `REDIS_GATEWAY` the command runs with
`CONFIG` pointing at the config as it is (the worker can route to the VMs).

The gateway's host key is pinned (`REDIS_GATEWAY_HOST_KEY`, `TYPE BASE64` as in
known_hosts): an unknown key refuses the connection before any credential is sent.

Environment: REDIS_GATEWAY (`user@host[:port]`), REDIS_GATEWAY_PRIVATE_KEY (PEM/OpenSSH
text), REDIS_GATEWAY_HOST_KEY, REDIS_NETWORK (CIDR), REDIS_PORTS (default 6379).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# the second octets tried for the loopback block: the first block whose every listener binds is
# used, so two runs on one machine (parallel CI jobs, a developer's own run) never collide. Never
# 127.0/16 (127.0.0.1) nor 127.20-250/16: a simulator reserves one of those /16s with a single
# socket on 127.N.255.254 and binds its VM addresses later (simulator/server.py,
# reserve_loopback_network), so a tunnel there could take a Redis VM's address and port first
LOOPBACK_OCTETS = (*range(2, 20), *range(251, 255))
MAX_ADDRESSES = 1024


class GatewayError(RuntimeError):
    pass


@dataclass(frozen=True)
class GatewaySettings:
    user: str
    host: str
    port: int
    private_key: str = field(repr=False)
    host_key: str
    network: ipaddress.IPv4Network
    ports: tuple[int, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings | None:
        target = env.get("REDIS_GATEWAY", "").strip()
        if not target:
            return None
        problems = []
        user, at, hostport = target.rpartition("@")
        host, _, port_s = hostport.partition(":")
        if not at or not user or not host:
            problems.append(f"REDIS_GATEWAY={target!r}: expected user@host[:port]")
        try:
            port = int(port_s or 22)
        except ValueError:
            problems.append(f"REDIS_GATEWAY={target!r}: port {port_s!r} is not a number")
            port = 22
        for name in ("REDIS_GATEWAY_PRIVATE_KEY", "REDIS_GATEWAY_HOST_KEY", "REDIS_NETWORK"):
            if not env.get(name, "").strip():
                problems.append(f"{name} is required with REDIS_GATEWAY")
        network = ipaddress.IPv4Network("0.0.0.0/32")
        try:
            network = ipaddress.IPv4Network(env.get("REDIS_NETWORK", "").strip() or "0.0.0.0/32")
            if network.num_addresses > MAX_ADDRESSES:
                problems.append(f"REDIS_NETWORK={network} has {network.num_addresses} addresses; give the "
                                f"environment's Redis subnet (at most /22)")
        except ValueError as exc:
            problems.append(f"REDIS_NETWORK: {exc}")
        try:
            ports = tuple(int(p) for p in (env.get("REDIS_PORTS") or "6379").split(",") if p.strip())
        except ValueError:
            problems.append(f"REDIS_PORTS={env.get('REDIS_PORTS')!r}: expected port numbers separated by commas")
            ports = ()
        if problems:
            raise GatewayError("cannot use the gateway:\n  - " + "\n  - ".join(problems))
        return cls(user, host, port, env["REDIS_GATEWAY_PRIVATE_KEY"], env["REDIS_GATEWAY_HOST_KEY"].strip(),
                   network, ports)


def _private_key(text: str) -> Any:
    import paramiko

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise GatewayError("REDIS_GATEWAY_PRIVATE_KEY is not a private key paramiko can read (Ed25519, ECDSA or RSA)")


def _bind_loopback_block(prefixlen: int, ports: tuple[int, ...]) -> tuple[ipaddress.IPv4Network, list[socket.socket]]:
    """Listeners on every address of a free loopback block as large as the network, on each port.

    A block is free when every listener binds; otherwise its sockets are closed and the next
    block is tried, so nothing else on the machine is ever disturbed."""
    for octet in random.sample(LOOPBACK_OCTETS, len(LOOPBACK_OCTETS)):
        block = ipaddress.IPv4Network(f"127.{octet}.0.0/{prefixlen}", strict=False)
        servers: list[socket.socket] = []
        try:
            for address in (block.network_address + i for i in range(block.num_addresses)):
                for port in ports:
                    servers.append(socket.create_server((str(address), port)))
            return block, servers
        except OSError:
            for srv in servers:
                srv.close()
    raise GatewayError(f"no free loopback block /{prefixlen} for ports {ports} at 127.N.0.0, N in "
                       f"{', '.join(map(str, LOOPBACK_OCTETS))}")


class Tunnel:
    """Loopback listeners for every address of the network, relayed through the gateway."""

    def __init__(self, settings: GatewaySettings):
        import paramiko

        self.settings = settings
        key_type, _, key_b64 = settings.host_key.partition(" ")
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            pinned = paramiko.PKey.from_type_string(key_type, __import__("base64").b64decode(key_b64.split()[0]))
        except Exception as exc:
            raise GatewayError(f"REDIS_GATEWAY_HOST_KEY is not `TYPE BASE64` ({exc})")
        name = settings.host if settings.port == 22 else f"[{settings.host}]:{settings.port}"
        client.get_host_keys().add(name, key_type, pinned)
        try:
            client.connect(settings.host, settings.port, username=settings.user,
                           pkey=_private_key(settings.private_key), allow_agent=False, look_for_keys=False,
                           timeout=30)
        except paramiko.BadHostKeyException as exc:
            raise GatewayError(f"gateway {settings.host}:{settings.port} presented a host key that is not the "
                               f"pinned REDIS_GATEWAY_HOST_KEY ({exc.key.get_name()}); refusing to connect")
        except (paramiko.SSHException, OSError) as exc:
            raise GatewayError(f"cannot connect to gateway {settings.user}@{settings.host}:{settings.port}: {exc}")
        self.client = client
        self.transport = client.get_transport()
        self._closed = threading.Event()
        self.loopback, self._servers = _bind_loopback_block(settings.network.prefixlen, settings.ports)
        for srv in self._servers:
            local, port = srv.getsockname()[:2]
            offset = int(ipaddress.ip_address(local)) - int(self.loopback.network_address)
            remote = str(settings.network.network_address + offset)
            threading.Thread(target=self._accept, args=(srv, remote, port), daemon=True).start()

    def resolve_entry(self) -> dict[str, str]:
        return {str(self.settings.network): str(self.loopback)}

    def _accept(self, srv: socket.socket, remote: str, port: int) -> None:
        while not self._closed.is_set():
            try:
                conn, origin = srv.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn, origin, remote, port), daemon=True).start()

    def _relay(self, conn: socket.socket, origin: tuple[str, int], remote: str, port: int) -> None:
        try:
            channel = self.transport.open_channel("direct-tcpip", (remote, port), origin, timeout=30)
        except Exception as exc:
            print(f"gateway: cannot open {remote}:{port} through {self.settings.host}: {exc}", file=sys.stderr)
            conn.close()
            return
        with conn, channel:
            while True:
                readable, _, _ = select.select([conn, channel], [], [], 1.0)
                if self._closed.is_set():
                    return
                for source, sink in ((conn, channel), (channel, conn)):
                    if source in readable:
                        data = source.recv(65536)
                        if not data:
                            return
                        sink.sendall(data)

    def close(self) -> None:
        self._closed.set()
        for srv in self._servers:
            srv.close()
        self.client.close()


def run(config_path: Path, command: list[str], env: Mapping[str, str]) -> int:
    settings = GatewaySettings.from_env(env)
    child_env = dict(env)
    if settings is None:
        child_env["CONFIG"] = str(config_path.resolve())
        return subprocess.call(command, env=child_env)
    config = yaml.safe_load(config_path.read_text()) or {}
    tunnel = Tunnel(settings)
    try:
        config["resolve"] = {**(config.get("resolve") or {}), **tunnel.resolve_entry()}
        with tempfile.TemporaryDirectory(prefix="gateway-") as tmp:
            derived = Path(tmp) / "config.yml"
            fd = os.open(derived, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                yaml.safe_dump(config, f, sort_keys=False)
            child_env["CONFIG"] = str(derived)
            print(f"gateway: {settings.network} ports {','.join(map(str, settings.ports))} through "
                  f"{settings.user}@{settings.host}:{settings.port}", flush=True)
            return subprocess.call(command, env=child_env)
    finally:
        tunnel.close()


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m ci.gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    try:
        return run(args.config, command, env)
    except GatewayError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
