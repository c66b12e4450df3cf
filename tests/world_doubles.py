"""Stand-ins inside one simulated world, for tests of the runtime parts (diego, router, ssh
proxy, CC): the director's side of the world's event bus, and the logs component.

`BusDirector` is not a director API (tests/fakes.py's `FakeDirector` is the one double of
that): it owns a list of `InstanceView`s and plays what the director does to the other parts
through `world.bus` (drain before a stop, then stopped; started after a start), so those parts
can be tested without deploying manifests.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

from simulator.world import PROFILES, InstanceView, JobTemplate, Profile, World

VERSIONS = {"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0"}
RELEASE_OF = {"rep": "diego", "garden": "garden-linux", "bbs": "diego", "auctioneer": "diego",
              "converger": "diego", "route_emitter": "diego", "stager": "diego", "nsync": "diego",
              "tps": "diego", "cc_uploader": "diego", "file_server": "diego", "ssh_proxy": "diego"}
BRAIN = ["bbs", "auctioneer", "converger", "route_emitter", "stager", "nsync", "tps", "cc_uploader",
         "file_server"]
PROBE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "probe"


class BusDirector:
    def __init__(self, world: World) -> None:
        self.world = world
        self.items: list[InstanceView] = []
        self._next_ip = 2
        world.set_instance_source(lambda: list(self.items))

    def add(self, deployment: str, group: str, templates: list[str], index: int = 0,
            properties: dict[str, Any] | None = None, versions: dict[str, str] | None = None,
            ip: str | None = None) -> InstanceView:
        versions = {**VERSIONS, **(versions or {})}
        tmpl = [JobTemplate(t, RELEASE_OF.get(t, "cf"), versions[RELEASE_OF.get(t, "cf")]) for t in templates]
        if ip is None:
            ip = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
            self._next_ip += 1
        inst = InstanceView(deployment, group, index, str(uuid.uuid4()), [ip], tmpl, dict(properties or {}))
        self.items.append(inst)
        self.world.bus.emit("started", inst)
        return inst

    def stop(self, inst: InstanceView) -> None:
        """`bosh stop`: drain (blocking), then the instance stops."""
        self.world.bus.emit("drain", inst)
        inst.state, inst.job_state = "stopped", "stopped"
        self.world.bus.emit("stopped", inst)

    def start(self, inst: InstanceView) -> None:
        inst.state, inst.job_state = "started", "running"
        self.world.bus.emit("started", inst)

    def down(self, inst: InstanceView) -> None:
        """A job stops without a drain (a component outage for the tests)."""
        inst.state, inst.job_state = "stopped", "stopped"
        self.world.bus.emit("stopped", inst)


def make_world(state_dir: Path, profile: Profile | None = None, **overrides: float) -> World:
    base = profile or PROFILES["fast"]
    if overrides:
        base = Profile(**{**base.__dict__, **overrides})
    return World(profile=base, state_dir=state_dir)


def zip_dir(directory: Path = PROBE_DIR) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(directory).as_posix())
    return buf.getvalue()


class RecordingLogs:
    """Stands in for the logs component: records every emitted line
    (app_guid, source_type, source_instance, message, stream)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str, str, str]] = []

    def emit(self, app_guid: str, source_type: str, source_instance: str, message: str,
             stream: str = "OUT") -> None:
        self.lines.append((app_guid, source_type, source_instance, message, stream))
