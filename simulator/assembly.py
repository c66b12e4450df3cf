"""`python -m simulator serve`: build the world, attach every part, write the suite config,
serve until SIGTERM/SIGINT or until the parent process dies, then close everything.

This is where the parts are assembled (each part's `attach(world)` builds its models and the
HTTP apps and listeners that serve them); no part imports this module. The main thread waits
on an Event with a 0.5 s period.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from simulator import tls as tlsmod
from simulator.director import era as director_eras
from simulator.server import reserve_loopback_network
from simulator.world import PROFILES, VM_NETWORK, AddressMap, World

# docs/architecture.md §3: the order in which parts are attached (closed in reverse)
PARTS = (
    "simulator.director",
    "simulator.cloudcontroller",
    "simulator.loggregator",
    "simulator.diego",
    "simulator.router",
    "simulator.sshproxy",
    "simulator.jobs.redis",
)

DIRECTOR_URL = "https://192.168.50.4:25555"


# --------------------------------------------------------------------------------------
# World, parts and config


def build_world(state_dir: Path, profile: str, loopback: ipaddress.IPv4Network,
                preload: list[str], director_auth: str | None = None, director_era: str | None = None) -> World:
    """`loopback` is where the VM network is mapped; the VM network itself (10.244.0.0/16)
    means the VM addresses are used natively (`--vm-network-native`)."""
    world = World(profile=PROFILES[profile], state_dir=state_dir,
                  addresses=AddressMap(VM_NETWORK, loopback))
    world.tls = tlsmod.generate(state_dir / "tls")
    world.credentials = {
        "bosh_username": "admin", "bosh_password": secrets.token_urlsafe(18),
        "cf_admin_user": "admin", "cf_admin_password": secrets.token_urlsafe(18),
    }
    era = director_eras.era(director_era)
    world.settings = {"preload": preload, "director_auth": director_auth or era.default_auth,
                      "director_era": era.name, "vm_network_native": loopback == VM_NETWORK}
    return world



def attach_parts(world: World, parts: tuple[str, ...] = PARTS, warn: Callable[[str], None] | None = None) -> None:
    """Import each part and call its `attach(world)`. A part that is not written yet (module
    missing, or no `attach`) is skipped with a warning; any other error propagates."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
    for name in parts:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
                warn(f"simulator: part {name} is missing; skipped")
                continue
            raise
        attach = getattr(module, "attach", None)
        if attach is None:
            warn(f"simulator: part {name} has no attach(world) yet; skipped")
            continue
        attach(world)


def close_components(world: World) -> None:
    """close() every component once, in reverse order of registration; errors go to stderr."""
    seen: set[int] = set()
    for name, comp in reversed(list(world.components.items())):
        if id(comp) in seen or not hasattr(comp, "close"):
            continue
        seen.add(id(comp))
        try:
            comp.close()
        except Exception as exc:
            print(f"simulator: closing {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def suite_config(world: World) -> dict[str, Any]:
    """The suite config (docs/architecture.md §1) describing this simulator.

    Its TLS keys are what a user of a real 2015 BOSH-Lite needs: the director's CA with
    `tls_allow_sha1` (its certificate is SHA-1 signed), and no CF CA at all: the CF that the
    suite talks to is the one it deploys, and it trusts the HAProxy certificate it deploys."""
    creds = world.credentials
    resolve = dict(world.published)
    native = world.addresses.vm_network == world.addresses.loopback_network
    if not native:
        resolve[str(world.addresses.vm_network)] = str(world.addresses.loopback_network)
    config = {
        "bosh": {"url": DIRECTOR_URL, "ca_cert": world.tls.ca_pem, "skip_ssl_validation": False,
                 "tls_allow_sha1": True, "tls_hostname_from_cn": False,
                 "username": creds["bosh_username"], "password": creds["bosh_password"],
                 "client": None, "client_secret": None},
        "cf": {"api": f"https://api.{world.system_domain}", "apps_domain": world.apps_domain,
               "system_domain": world.system_domain, "admin_user": creds["cf_admin_user"],
               "admin_password": creds["cf_admin_password"], "ca_cert": None,
               "skip_ssl_validation": False, "tls_allow_sha1": False, "tls_hostname_from_cn": False},
        "resolve": resolve,
        # everything this simulator serves is on loopback: refuse anything else outright (with
        # native VM addresses it runs inside a network namespace a test made, which owns 10.244/16)
        "loopback_only": not native,
    }
    if world.settings["director_auth"] == "uaa":  # UAA client credentials (director's token endpoint) only
        config["bosh"].update({"client": creds["bosh_username"], "client_secret": creds["bosh_password"],
                               "username": None, "password": None})
    return config


class _ConfigDumper(yaml.SafeDumper):
    """Multi-line strings (the CA PEM) as literal blocks, so the config stays readable."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ConfigDumper.add_representer(str, _str_representer)


def dump_config(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_ConfigDumper, sort_keys=False, default_flow_style=False)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------
# Process lifetime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_children() -> None:
    """Safety net: SIGKILL any child process (and its group) still running after close."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[1]) == me:
            pid = int(entry.name)
            try:
                pgid = os.getpgid(pid)
                if pgid != os.getpgrp():
                    os.killpg(pgid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


class NativeNetworkMissing(RuntimeError):
    """`--vm-network-native` outside a network namespace that owns 10.244.0.0/16."""


def native_vm_network() -> ipaddress.IPv4Network:
    """The VM network itself, after checking this host owns it (an address of it can be
    bound): true only inside a network namespace a test made (tests/oracles/privatehost.py)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((str(VM_NETWORK.broadcast_address - 1), 0))
    except OSError as exc:
        raise NativeNetworkMissing(
            f"--vm-network-native needs {VM_NETWORK} on a local interface (inside a network namespace made "
            f"for it, e.g. `ip addr add {VM_NETWORK} dev lo`): {exc.strerror}") from None
    finally:
        probe.close()
    return VM_NETWORK


def serve(config_out: Path, state_dir: Path | None, profile: str, preload: list[str],
          parent_pid: int | None, director_auth: str | None = None, director_era: str | None = None,
          vm_network_native: bool = False) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    initial_ppid = os.getppid()

    def parent_gone() -> bool:
        if parent_pid is None:
            return False
        if parent_pid == initial_ppid:
            return os.getppid() != initial_ppid
        return not _alive(parent_pid)

    state_dir = Path(state_dir or tempfile.mkdtemp(prefix="bosh-lite-sim-")).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    reservation = None if vm_network_native else reserve_loopback_network()
    network = native_vm_network() if reservation is None else reservation.network
    world = build_world(state_dir, profile, network, preload, director_auth, director_era)
    try:
        attach_parts(world)
        if stop.is_set() or parent_gone():
            return 0
        write_atomically(config_out, dump_config(suite_config(world)))
        print(f"simulator: ready (profile {profile}, director era {world.settings['director_era']}, "
              f"VM network {network}); config written to {config_out}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            if parent_gone():
                print("simulator: parent process is gone; shutting down", file=sys.stderr, flush=True)
                break
        return 0
    finally:
        close_components(world)
        if reservation is not None:
            reservation.close()
        _kill_children()
