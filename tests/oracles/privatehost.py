"""A private host for the real CLIs: a network and mount namespace that the test makes.

The real `bosh` and `cf` CLIs resolve names through the system resolver and dial the
well-known addresses of a BOSH-Lite; the project's rules forbid touching the machine's
`/etc/hosts`, binding its well-known ports or sending a packet to a non-loopback address.
Inside a namespace made here none of that reaches the machine: it has its own loopback
(with the BOSH-Lite addresses put on it), its own `/etc/hosts` (a bind mount visible only
in this mount namespace) and its own port space. Everything that runs against the
simulator — the simulator itself, the relays to its ports and each CLI command — is
started in it with `nsenter`.

Needs root (CI runs as root), `unshare`/`nsenter` (util-linux) and `ip` (iproute2).
No pytest here: fixtures in conftest.py wrap it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RELAY = Path(__file__).with_name("relay.py")
DIRECTOR_ADDRESS = "192.168.50.4"  # BOSH-Lite's director (bosh-lite Vagrantfile)
FRONT_ADDRESS = "10.244.0.34"  # ha_proxy_z1's static IP in cf-release's bosh-lite manifests
SYSTEM_HOSTS = ("api", "uaa", "login", "doppler", "loggregator", "ssh", "log-cache")

# The holder: brings the private loopback up, puts the addresses on it, mounts the private
# hosts file, says `ready` and waits for its stdin to close (the test's end, or its death).
_HOLDER = r"""
import subprocess, sys
hosts, *addresses = sys.argv[1:]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
for a in addresses:
    subprocess.run(["ip", "addr", "add", a, "dev", "lo"], check=True)
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
print("ready", flush=True)
sys.stdin.read()
"""


class PrivateHostError(RuntimeError):
    pass


def missing_tools() -> list[str]:
    """What this machine lacks to make a private host (empty when it can)."""
    problems = [f"{tool} not found on PATH" for tool in ("unshare", "nsenter", "ip", "mount")
                if shutil.which(tool) is None]
    if os.geteuid() != 0:
        problems.append("not running as root (network and mount namespaces need it)")
    return problems


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (f"`{' '.join(self.argv)}` exited {self.returncode}\n--- stdout\n{self.stdout[-6000:]}"
                f"\n--- stderr\n{self.stderr[-6000:]}")


class PrivateHost:
    """One namespace; `run()`/`spawn()` execute commands inside it."""

    def __init__(self, workdir: Path, hostnames: Mapping[str, str] | None = None,
                 addresses: Iterable[str] = (f"{DIRECTOR_ADDRESS}/32", f"{FRONT_ADDRESS}/32")) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hostnames = dict(hostnames or {})
        self.addresses = list(addresses)
        self._holder: subprocess.Popen[str] | None = None
        self._children: list[subprocess.Popen[bytes]] = []

    # ------------------------------------------------------------------ lifetime

    def start(self, timeout: float = 10.0) -> PrivateHost:
        problems = missing_tools()
        if problems:
            raise PrivateHostError("cannot make a private network namespace: " + "; ".join(problems))
        hosts = self.workdir / "hosts"
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{addr} {name}" for name, addr in sorted(self.hostnames.items())]
        hosts.write_text("\n".join(lines) + "\n")
        self._holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--fork", "--kill-child", "--",
             sys.executable, "-c", _HOLDER, str(hosts), *self.addresses],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self._holder.stdout.readline() if self._holder.stdout else ""
        if line.strip() != "ready":
            err = self._holder.stderr.read() if self._holder.stderr and self._holder.poll() is not None else ""
            self.close()
            raise PrivateHostError(f"the namespace holder did not start: {line!r} {err}")
        return self

    def set_hostname(self, name: str, address: str) -> None:
        """Point `name` at `address` in the private /etc/hosts from now on (the file is
        rewritten in place: the bind mount keeps showing the same inode)."""
        self.hostnames[name] = address
        hosts = self.workdir / "hosts"
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{addr} {host}" for host, addr in sorted(self.hostnames.items())]
        with open(hosts, "r+") as fh:
            fh.seek(0)
            fh.write("\n".join(lines) + "\n")
            fh.truncate()

    @property
    def pid(self) -> int:
        if self._holder is None:
            raise PrivateHostError("private host not started")
        return self._holder.pid

    def close(self) -> None:
        for child in reversed(self._children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except OSError:
                    pass
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait(5)
        self._children.clear()
        if self._holder is not None and self._holder.poll() is None:
            if self._holder.stdin:
                self._holder.stdin.close()
            try:
                self._holder.wait(5)
            except subprocess.TimeoutExpired:
                self._holder.kill()
                self._holder.wait(5)

    def __enter__(self) -> PrivateHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ commands

    def enter(self, argv: Sequence[str], cwd: Path | str | None = None) -> list[str]:
        """argv prefixed so that it runs inside the namespace, in `cwd` (nsenter's own
        working directory handling is unreliable with a mount namespace, so `sh` changes
        into it)."""
        cwd = str(cwd or self.workdir)
        return ["nsenter", f"--target={self.pid}", "--net", "--mount", "--",
                "sh", "-c", 'cd "$0" && exec "$@"', cwd, *argv]

    def run(self, argv: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120.0, input: str | None = None) -> Result:
        """Run to completion, in a session of its own: no controlling terminal, so a client
        that would prompt (ssh asking about a host key) fails as it does in CI, never waits
        on the developer's terminal."""
        proc = subprocess.run(self.enter(argv, cwd), env=dict(env) if env is not None else None,
                              input=input, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
        return Result(list(argv), proc.returncode, proc.stdout, proc.stderr)

    def spawn(self, argv: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
              stdout: int | None = subprocess.PIPE, stderr: int | None = subprocess.STDOUT,
              stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """A long-running process inside the namespace, killed (with its group) by close()."""
        child = subprocess.Popen(self.enter(argv, cwd), env=dict(env) if env is not None else None,
                                 stdout=stdout, stderr=stderr, stdin=stdin, start_new_session=True)
        self._children.append(child)
        return child

    def relay(self, routes: Mapping[str, str], timeout: float = 10.0) -> subprocess.Popen[bytes]:
        """Listen on each well-known `addr:port` and splice to `target:port` (see relay.py)."""
        child = self.spawn([sys.executable, str(RELAY), *(f"{k}={v}" for k, v in routes.items())])
        deadline = time.monotonic() + timeout
        assert child.stdout is not None
        line = child.stdout.readline().decode().strip()
        if line != "ready" or time.monotonic() > deadline:
            raise PrivateHostError(f"relay did not start: {line!r}")
        return child


def bosh_lite_routes(resolve: Mapping[str, str], system_domain: str) -> tuple[dict[str, str], dict[str, str]]:
    """From a simulator config's resolve map: the relays (well-known address -> simulator
    port) and the host names to put in the private /etc/hosts.

    IP-literal entries (the director) listen where they say; name entries (`*.domain:443`,
    `ssh.domain:2222`, ...) listen on HAProxy's address, and the system names of the domain
    resolve to it, as the wildcard DNS of a BOSH-Lite does. CIDR entries (the VM network)
    are not relayed: instances are reached by their own addresses only where the simulator
    is told to use them natively."""
    relays: dict[str, str] = {}
    for key, target in resolve.items():
        if "/" in key:
            continue
        host, _, port = key.rpartition(":")
        try:
            ipaddress.ip_address(host)
            relays[f"{host}:{port}"] = target
        except ValueError:
            relays[f"{FRONT_ADDRESS}:{port}"] = target
    names = {f"{h}.{system_domain}": FRONT_ADDRESS for h in SYSTEM_HOSTS}
    return relays, names
