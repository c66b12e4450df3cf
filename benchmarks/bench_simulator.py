"""Measured figures of the simulator (reported, never asserted):

* start-up time of `python -m simulator serve` until the config file is written,
* CPU used by the idle simulator (all parts attached, nothing deployed) over a window,
* wall time of deploying the five generated V0 manifests, then the V-prime ones in the
  upgrade order, through the director's HTTP API (fast profile), and the idle CPU afterwards.

Run: `python benchmarks/bench_simulator.py [--idle-seconds 5] [--profile fast]`
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import launcher  # noqa: E402
from simulator.client import SimulatorClient  # noqa: E402

V0_ORDER = ["cf", "database", "brain-and-pals", "cell1", "cell2"]
VPRIME_ORDER = ["database", "cell1", "brain-and-pals", "cf", "cell2"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its reaped children, in seconds."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--profile", default="fast")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    t0 = time.monotonic()
    proc = launcher.start(tmp / "sim", profile=args.profile)
    print(f"startup_seconds: {time.monotonic() - t0:.2f}")
    try:
        print(f"idle_cpu_fraction_before_deploy: {idle_cpu(proc.pid, args.idle_seconds):.4f}")
        sim = SimulatorClient(proc.config())
        uuid = sim.bosh("GET", "/info").json()["uuid"]
        for vs, order in (("v0", V0_ORDER), ("v_prime", VPRIME_ORDER)):
            out = tmp / vs
            gen = subprocess.run([sys.executable, "-m", "manifests", "generate", "--versions", vs, "--out", str(out),
                                  "--director-uuid", uuid, "--secrets", str(tmp / "secrets.yml")],
                                 cwd=REPO, capture_output=True, text=True)
            if gen.returncode:
                print(f"manifest generation failed for {vs}:\n{gen.stderr[-2000:]}")
                return 1
            files = {f.stem: f for f in out.glob("*.yml")}
            total = time.monotonic()
            for piece in order:
                path = next(f for stem, f in files.items() if stem == piece or stem.endswith(piece))
                start = time.monotonic()
                task = sim.deploy(path.read_text())
                print(f"deploy_{vs}_{piece}_seconds: {time.monotonic() - start:.2f} ({task['state']})")
            print(f"deploy_{vs}_total_seconds: {time.monotonic() - total:.2f}")
        print(f"idle_cpu_fraction_after_deploy: {idle_cpu(proc.pid, args.idle_seconds):.4f}")
    finally:
        proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
