"""What the continuous measurements cost: `python benchmarks/bench_observers.py [--runs N]`.

Runs `pytest suites/upgrade_stable` against a simulator this script starts (fast profile),
once with every measurement off (`observers.<name>.enabled: false`) and once with all on at
their default rates, `--runs` times each, alternating. For each run it reads:

* the pytest process's CPU (user + sys, `RUSAGE_CHILDREN` around the child; the simulator is
  this script's other child and is still running then, so it is not counted),
* the simulator's CPU over the run (`/proc/<pid>/stat`),
* the session's wall time and the measurements' own attempt CPU from report.json
  (`measurements.<name>.cpu_seconds`: thread CPU inside each attempt).

The measurements' cost is (suite CPU with them - suite CPU without) / wall time with them,
as a share of one core; the attempts' own share and the simulator's extra CPU are printed
beside it. Nothing is asserted: the figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from helpers.observers import REGISTRY  # noqa: E402
from simulator.launcher import start  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS  # utime, stime, cutime, cstime (reaped app processes)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(tmp: Path, enabled: bool, n: int) -> dict:
    sim = start(tmp / f"sim-{enabled}-{n}", "fast")
    try:
        data = yaml.safe_load(sim.config_path.read_text())
        data["observers"] = {name: {"enabled": enabled} for name in REGISTRY.names()}
        config = tmp / f"config-{enabled}-{n}.yml"
        config.write_text(yaml.safe_dump(data))
        art = tmp / f"art-{enabled}-{n}"
        sim_pid = sim.pid
        s0, c0, t0 = proc_cpu(sim_pid), children_cpu(), time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "suites/upgrade_stable", "-q", "-p", "no:cacheprovider",
                               "--config", str(config), "--artifacts", str(art)], cwd=REPO, capture_output=True,
                              text=True)
        outer, suite_cpu, sim_cpu = time.monotonic() - t0, children_cpu() - c0, proc_cpu(sim_pid) - s0
        report = json.loads((art / "report.json").read_text())
    finally:
        sim.stop()
    attempts = sum(m.get("cpu_seconds", 0.0) for m in report["measurements"].values())
    return {"enabled": enabled, "returncode": proc.returncode, "totals": report["totals"],
            "outer_wall_s": outer, "session_wall_s": report["timings"]["wall"], "suite_cpu_s": suite_cpu,
            "simulator_cpu_s": sim_cpu, "attempt_cpu_s": attempts,
            "per_measurement_attempt_cpu_s": {n: m.get("cpu_seconds") for n, m in report["measurements"].items()},
            "samples": {n: m.get("attempted") for n, m in report["measurements"].items()}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            for enabled in (False, True):
                runs[enabled].append(one_run(Path(tmp), enabled, n))
    off, on = runs[False], runs[True]

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    wall_on = med(on, "outer_wall_s")
    result = {
        "runs_each": args.runs,
        "returncodes": {"off": [r["returncode"] for r in off], "on": [r["returncode"] for r in on]},
        "outer_wall_s": {"off": round(med(off, "outer_wall_s"), 2), "on": round(wall_on, 2)},
        "suite_cpu_s": {"off": round(med(off, "suite_cpu_s"), 2), "on": round(med(on, "suite_cpu_s"), 2)},
        "simulator_cpu_s": {"off": round(med(off, "simulator_cpu_s"), 2), "on": round(med(on, "simulator_cpu_s"), 2)},
        "measurements_suite_cpu_share_of_a_core": round(
            (med(on, "suite_cpu_s") - med(off, "suite_cpu_s")) / wall_on, 4),
        "attempts_cpu_share_of_a_core": round(med(on, "attempt_cpu_s") / med(on, "session_wall_s"), 4),
        "per_measurement_attempt_cpu_share": {
            name: round(statistics.median(r["per_measurement_attempt_cpu_s"][name] / r["session_wall_s"] for r in on), 4)
            for name in on[0]["per_measurement_attempt_cpu_s"]},
        "simulator_extra_cpu_share_of_a_core": round(
            (med(on, "simulator_cpu_s") - med(off, "simulator_cpu_s")) / wall_on, 4),
        "samples_per_run": on[0]["samples"],
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    return 0 if all(r["returncode"] == 0 for r in off + on) else 1


if __name__ == "__main__":
    raise SystemExit(main())
