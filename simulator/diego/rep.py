"""A rep starting one app instance: garden container, instance directory, Diego's environment,
process.

As on a real cell (docs/architecture.md "Era: Diego cells (garden containers)"): the container
has an address of its own, the app listens there on the LRP's first port (8080, `PORT`), and
garden's NetIn maps an external port of the cell to it; the router, the route emitter and
TPS stats use cellIP:external. The app is a real OS process; the one thing the simulator adds
to the era's environment is `VCAP_APP_HOST` = the container's address, because the container
shares the machine's loopback (see `instance_env`).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator import processes
from simulator.diego.garden import Container, Garden, PortMapping
from simulator.diego.models import DEFAULT_PORT, ActualLRP, Cell, DesiredLRP
from simulator.world import dig

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
LANG = "en_US.UTF-8"  # nsync recipebuilder.DefaultLANG, in the DesiredLRP's environment


def start_command(command: str) -> list[str]:
    """The Procfile command run by bash; `python` means the simulator's own interpreter."""
    words = command.split(None, 1)
    if words and words[0] in ("python", "python3"):
        command = shlex.quote(sys.executable) + (" " + words[1] if len(words) > 1 else "")
    return ["/bin/bash", "-c", command]


def go_json(value: Any) -> str:
    """What Go's encoding/json writes: compact, map keys sorted, `<`, `>`, `&` escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def network_env(cell_ip: str, mappings: list[PortMapping]) -> dict[str, str]:
    """The executor's networking variables (run_step.go networkingEnvVars): the first mapping
    is the instance's port and address; CF_INSTANCE_PORTS lists them all."""
    if not mappings:
        return {"CF_INSTANCE_IP": cell_ip, "CF_INSTANCE_PORT": "", "CF_INSTANCE_ADDR": "",
                "CF_INSTANCE_PORTS": "[]"}
    first = mappings[0].external
    return {"CF_INSTANCE_IP": cell_ip, "CF_INSTANCE_PORT": str(first), "CF_INSTANCE_ADDR": f"{cell_ip}:{first}",
            "CF_INSTANCE_PORTS": go_json([{"external": m.external, "internal": m.internal} for m in mappings])}


def launcher_vcap_application(env: dict[str, str]) -> str | None:
    """The buildpack app lifecycle's launcher: CC's VCAP_APPLICATION plus `host` 0.0.0.0,
    `instance_id`, `port` (from PORT) and `instance_index`; None when there is none to amend."""
    try:
        vcap = json.loads(env.get("VCAP_APPLICATION", ""))
    except ValueError:
        return None
    if not isinstance(vcap, dict):
        return None
    vcap["host"] = "0.0.0.0"
    vcap["instance_id"] = env.get("INSTANCE_GUID", "")
    for key, name in (("port", "PORT"), ("instance_index", "INSTANCE_INDEX")):
        try:
            vcap[key] = int(env.get(name, ""))
        except ValueError:
            pass
    return go_json(vcap)


def instance_env(desired: DesiredLRP, actual: ActualLRP, cell: Cell, container: Container,
                 home: Path) -> dict[str, str]:
    """The app process's environment, layer by layer as the era built it."""
    env = {
        # garden: the process runs as vcap
        "PATH": f"{os.path.dirname(sys.executable)}:{BASE_PATH}",
        "USER": "vcap",
        # the DesiredLRP's container environment (nsync), then the rep's instance keys
        "LANG": LANG,
        "INSTANCE_GUID": actual.instance_guid,
        "INSTANCE_INDEX": str(actual.index),
        "CF_INSTANCE_GUID": actual.instance_guid,
        "CF_INSTANCE_INDEX": str(actual.index),
    }
    env.update({k: str(v) for k, v in desired.env.items()})  # CC's (VCAP_APPLICATION, VCAP_SERVICES ...)
    env["PORT"] = str(desired.ports[0] if desired.ports else DEFAULT_PORT)  # nsync's run action
    if dig(cell.properties, "diego.executor.export_network_env_vars", True) is not False:
        env.update(network_env(cell.ip, container.mappings))
    # the launcher: HOME is the app's directory, VCAP_APPLICATION gets the instance's keys
    env["HOME"] = str(home)
    env["TMPDIR"] = str(home / "tmp")
    vcap_application = launcher_vcap_application(env)
    if vcap_application is not None:
        env["VCAP_APPLICATION"] = vcap_application
    # The simulator's addition (not the era's: Diego set no VCAP_APP_HOST until nsync 14f481a,
    # Jan 2017, and then 0.0.0.0). A real container has its own network namespace, so binding
    # 0.0.0.0:8080 there means the container's address; here the container shares the
    # machine's loopback, so the app is told the one address that is its own.
    env["VCAP_APP_HOST"] = container.address
    env["PYTHONUNBUFFERED"] = "1"  # also the simulator's: Python apps log line by line without flushing
    return env


def launch(desired: DesiredLRP, actual: ActualLRP, cell: Cell, garden: Garden, instances_dir: Path,
           on_line: Callable[[str, str], None], on_exit: Callable[[int], None]) -> None:
    """Create the container (address + NetIns), fill in the actual LRP's directory, ports,
    address and env, and start the process."""
    container = garden.create(cell, actual.instance_guid, desired.ports)
    home = instances_dir / actual.instance_guid
    try:
        shutil.copytree(desired.droplet.path, home, dirs_exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)
        env = instance_env(desired, actual, cell, container, home)
        actual.container = container
        actual.directory = home
        actual.port = container.external_port(DEFAULT_PORT)  # TPS getDefaultPort
        actual.address = (cell.address, actual.port) if actual.port is not None else None
        actual.env = env
        actual.process = processes.spawn(start_command(desired.droplet.command), home, env, on_line,
                                         on_exit=on_exit)
    except BaseException:
        container.destroy()
        shutil.rmtree(home, ignore_errors=True)
        raise


def health_check_address(actual: ActualLRP) -> tuple[str, int] | None:
    """Where the era's port health check dials: the container's own address, port 8080
    (`healthcheck -port=8080` from inside the container), not the NetIn."""
    container = actual.container
    return (container.address, DEFAULT_PORT) if container is not None else None


def destroy(actual: ActualLRP, timeout: float = 5.0) -> None:
    """Stop the process (TERM, then KILL), destroy the container, remove the instance directory."""
    destroy_handles(actual.process, actual.directory, actual.container, timeout)


def destroy_handles(process: processes.ManagedProcess | None, directory: Path | None,
                    container: Container | None = None, timeout: float = 5.0) -> None:
    """Like `destroy`, for handles captured under Diego's lock (the record may be reused by a
    restart before the old container is gone). The NetIns go first, so that the external
    port refuses connections while the process stops rather than accepting them into a
    container that is going away."""
    if container is not None:
        container.net_down()
    if process is not None:
        process.stop(timeout)
    if container is not None:
        container.destroy()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
