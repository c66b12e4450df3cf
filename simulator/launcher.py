"""Start `python -m simulator serve` as a child process and wait until it is ready.

Used by the platform fixture (no config given => start the simulator) and by the
simulator's own tests. The child watches this process (`--parent-pid`), so it exits even if
the caller is SIGKILLed; it runs in its own session so a Ctrl-C in the terminal reaches it
only through `stop()`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


class SimulatorStartError(RuntimeError):
    pass


@dataclass
class SimulatorProcess:
    config_path: Path
    state_dir: Path
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text())

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait (bounded), then SIGKILL the simulator's process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.process.wait(5)
        return self.process.returncode

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start(state_dir: str | Path, profile: str = "fast", preload: Iterable[str] = ("v0", "v_prime"),
          timeout: float = 60.0, python: str = sys.executable, director_auth: str | None = None,
          wrapper: Sequence[str] = (), director_era: str | None = None,
          vm_network_native: bool = False) -> SimulatorProcess:
    """Start the simulator and wait for its config. `wrapper` prefixes the command line, e.g.
    `nsenter ...` to run it inside a network namespace a test made (tests/oracles/), where
    `vm_network_native` may give the VMs their own addresses. `director_era` None is the
    default era (2015); `director_auth` None is the era's own (2015 basic, current uaa)."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = state_dir / "simulator-config.yml"
    config_path.unlink(missing_ok=True)
    log_path = state_dir / "simulator.log"
    cmd = [*wrapper, python, "-m", "simulator", "serve", "--config-out", str(config_path), "--state-dir", str(state_dir),
           "--profile", profile, "--preload", ",".join(preload), "--parent-pid", str(os.getpid()),
           *(["--director-era", director_era] if director_era else []),
           *(["--director-auth", director_auth] if director_auth else []),
           *(["--vm-network-native"] if vm_network_native else [])]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    sim = SimulatorProcess(config_path, state_dir, proc, log_path)
    deadline = time.monotonic() + timeout
    while not config_path.exists():
        if proc.poll() is not None:
            raise SimulatorStartError(f"simulator exited with status {proc.returncode} before it was ready:\n"
                                      f"{sim.log_tail()}")
        if time.monotonic() > deadline:
            sim.stop(5)
            raise SimulatorStartError(f"simulator not ready after {timeout:.0f}s:\n{sim.log_tail()}")
        time.sleep(0.05)
    return sim
