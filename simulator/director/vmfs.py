"""The disk of each simulated VM: its job logs, and the directory `bosh ssh` commands run in.

A real VM's jobs write to `/var/vcap/sys/log/<job>/`; `bosh logs` has the agent pack that
directory into a gzipped tarball in the blobstore, and the director serves it at
`/resources/<blobstore id>`. Here each instance gets `<state_dir>/vms/<instance id>/` with
`sys/log/<job>/<job>.stdout.log` and `<job>_ctl.log`, written as its jobs start and stop
(the director's bus events), so the tarball holds what actually happened to the instance.
"""

from __future__ import annotations

import fnmatch
import io
import tarfile
import threading
import time
from pathlib import Path

from simulator.world import InstanceView, World

AGENT_LOG = "current"  # /var/vcap/bosh/log/current


class VmDisks:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def home(self, view: InstanceView) -> Path:
        """The VM's root directory (created on first use)."""
        path = self.root / view.id
        (path / "sys" / "log").mkdir(parents=True, exist_ok=True)
        (path / "bosh" / "log").mkdir(parents=True, exist_ok=True)
        return path

    def _append(self, path: Path, line: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a") as fh:
            fh.write(line + "\n")

    def record(self, view: InstanceView, what: str) -> None:
        """One line per job in its ctl and stdout logs, one in the agent's log."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())
        home = self.home(view)
        where = f"{view.group}/{view.index} ({view.id}) on {', '.join(view.ips) or 'no address'}"
        for t in view.templates:
            log_dir = home / "sys" / "log" / t.name
            self._append(log_dir / f"{t.name}_ctl.log", f"[{stamp}] {what} {t.name} ({t.release}/{t.release_version})")
            self._append(log_dir / f"{t.name}.stdout.log", f"{stamp} {t.name} {what} on {where}")
        self._append(home / "bosh" / "log" / AGENT_LOG, f"{stamp} agent: jobs {what} on {where}")

    def pack_logs(self, view: InstanceView, kind: str = "job", filters: list[str] | None = None) -> bytes:
        """The agent's `fetch_logs`: a .tgz of the job logs (`kind` job) or of the agent's own
        log (`agent`), paths relative to the log directory (`./<job>/<file>`), keeping only
        files matching `filters` (glob patterns relative to that directory) when given."""
        home = self.home(view)
        base = home / ("bosh/log" if kind == "agent" else "sys/log")
        patterns = [f for f in (filters or []) if f]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                rel = path.relative_to(base).as_posix()
                if not patterns or any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(path.name, pat)
                                       for pat in patterns):
                    tar.add(path, arcname=f"./{rel}")
        return buf.getvalue()


def attach(world: World, disks: VmDisks) -> None:
    """Write the job logs of every instance as its jobs start and stop."""
    world.bus.subscribe("started", lambda view: disks.record(view, "started"))
    world.bus.subscribe("stopped", lambda view: disks.record(view, "stopped"))
