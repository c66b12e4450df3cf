"""Full upgrade-from-stable wall time on the embedded simulator, and the suite's overhead.

`python benchmarks/bench_suite.py [--profile fast]` runs `pytest suites/upgrade_stable` in a
child process (no config: it starts the simulator) and reads the run's report.json:
`bosh` = time inside BOSH operations, `checks` = the versions check, the smoke test and A0's
scaling (run concurrently: the wall time of the after-step phase), pushing A0 and starting
the measurements (CF API calls and waiting for the platform), `wait` = waiting for the CF
API after the CF upgrade. Overhead = everything else (interpreter and pytest start,
simulator start, manifest generation, fixtures, report writing), as a share of the outer
wall time. The measurements run in the background throughout (benchmarks/bench_observers.py
says what they cost).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="fast", choices=("fast", "realistic"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(tmp) / "artifacts"
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "suites/upgrade_stable", "-q", "-p", "no:cacheprovider",
                               "--artifacts", str(art), "--simulator-profile", args.profile],
                              cwd=REPO, capture_output=True, text=True)
        outer = time.monotonic() - t0
        report = json.loads((art / "report.json").read_text())
    t = report["timings"]
    platform = t.get("bosh", 0.0) + t.get("checks", 0.0) + t.get("wait", 0.0)
    result = {
        "returncode": proc.returncode, "totals": report["totals"], "outer_wall_s": round(outer, 2),
        "session_wall_s": round(t["wall"], 2), "bosh_s": round(t.get("bosh", 0.0), 2),
        "checks_s": round(t.get("checks", 0.0), 2), "wait_s": round(t.get("wait", 0.0), 2),
        "overhead_s": round(outer - platform, 2), "overhead_share": round((outer - platform) / outer, 3),
        "bosh_tasks": len(report["tasks"]),
        "measurements": {name: {k: m.get(k) for k in ("attempted", "failed", "windows", "longest_outage")}
                         for name, m in report["measurements"].items()},
    }
    print(json.dumps(result, indent=2))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
