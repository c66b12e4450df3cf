"""A rep starting one app instance: instance directory, port, Diego's environment, process.

The instance is a real OS process bound to the cell's translated loopback address, so the
router reaches it exactly as gorouter reaches a container (cell IP : host port).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from simulator import processes
from simulator.diego.models import ActualLRP, Cell, DesiredLRP

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_command(command: str) -> list[str]:
    """The Procfile command run by bash; `python` means the simulator's own interpreter."""
    words = command.split(None, 1)
    if words and words[0] in ("python", "python3"):
        command = shlex.quote(sys.executable) + (" " + words[1] if len(words) > 1 else "")
    return ["/bin/bash", "-c", command]


def instance_env(desired: DesiredLRP, actual: ActualLRP, cell: Cell, port: int, home: Path) -> dict[str, str]:
    uris = list(desired.routes)
    vcap_application = {
        "application_id": desired.app_guid,
        "application_name": desired.app_name,
        "application_uris": uris,
        "application_version": desired.process_guid[len(desired.app_guid) + 1:] or desired.process_guid,
        "host": "0.0.0.0",
        "instance_id": actual.instance_guid,
        "instance_index": actual.index,
        "limits": {"mem": desired.memory_mb, "disk": 1024, "fds": 16384},
        "name": desired.app_name,
        "port": port,
        "process_id": desired.process_guid,
        "uris": uris,
        "version": desired.process_guid,
    }
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:{BASE_PATH}",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "en_US.UTF-8",
        "USER": "vcap",
        "PORT": str(port),
        "VCAP_APP_PORT": str(port),
        "VCAP_APP_HOST": cell.address,
        "CF_INSTANCE_PORT": str(port),
        "CF_INSTANCE_IP": cell.ip,
        "CF_INSTANCE_ADDR": f"{cell.ip}:{port}",
        "CF_INSTANCE_PORTS": json.dumps([{"external": port, "internal": port}]),
        "CF_INSTANCE_INDEX": str(actual.index),
        "CF_INSTANCE_GUID": actual.instance_guid,
        "INSTANCE_INDEX": str(actual.index),
        "INSTANCE_GUID": actual.instance_guid,
        "MEMORY_LIMIT": f"{desired.memory_mb}m",
        "VCAP_APPLICATION": json.dumps(vcap_application),
        "VCAP_SERVICES": "{}",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: str(v) for k, v in desired.env.items()})
    return env


def launch(desired: DesiredLRP, actual: ActualLRP, cell: Cell, instances_dir: Path,
           on_line: Callable[[str, str], None], on_exit: Callable[[int], None]) -> None:
    """Fill in the actual LRP's directory, port, address, env and process."""
    home = instances_dir / actual.instance_guid
    shutil.copytree(desired.droplet.path, home, dirs_exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    port = free_port(cell.address)
    env = instance_env(desired, actual, cell, port, home)
    actual.directory = home
    actual.port = port
    actual.address = (cell.address, port)
    actual.env = env
    actual.process = processes.spawn(start_command(desired.droplet.command), home, env, on_line,
                                     on_exit=on_exit)


def destroy(actual: ActualLRP, timeout: float = 5.0) -> None:
    """Stop the process (TERM, then KILL) and remove the instance directory."""
    destroy_handles(actual.process, actual.directory, timeout)


def destroy_handles(process: processes.ManagedProcess | None, directory: Path | None,
                    timeout: float = 5.0) -> None:
    """Like `destroy`, for handles captured under Diego's lock (the record may be reused by a
    restart before the old container is gone)."""
    if process is not None:
        process.stop(timeout)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
