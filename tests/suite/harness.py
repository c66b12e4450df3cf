"""Run a suite (or part of it) in a child pytest against a simulator we start, with faults.

Each inner run gets its own simulator (so deployments never leak between runs) and a
config file written from the simulator's, with short timeouts so that an injected fault
fails a check in seconds instead of minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

SHORT_TIMEOUTS = {"logs": 4.0, "ssh": 4.0, "route_ready": 20.0, "route_gone": 20.0, "scale": 30.0,
                  "app_start": 30.0, "login": 30.0, "api_ready": 60.0, "bosh_deploy": 120.0, "bosh_task": 120.0}


@dataclass
class InnerRun:
    returncode: int
    output: str
    artifacts: Path
    state_dir: Path | None = None

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.artifacts / "report.json").read_text())

    def outcome(self, test_name: str) -> tuple[str, str | None]:
        """(outcome, message) of the test whose node id ends with `test_name` (setup/call)."""
        rows = [r for r in self.report["results"] if r["nodeid"].endswith("::" + test_name)]
        if not rows:
            return "absent", None
        bad = [r for r in rows if r["outcome"] != "passed"]
        row = bad[0] if bad else rows[-1]
        return row["outcome"], row["message"]


def write_config(sim_config: Path, out: Path, **overrides: Any) -> Path:
    data = yaml.safe_load(sim_config.read_text())
    data.setdefault("timeouts", {}).update(SHORT_TIMEOUTS)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    out.write_text(yaml.safe_dump(data))
    return out


def run_suite(args: list[str], *, config: Path | None, artifacts: Path, faults: list[dict[str, Any]] = (),
              timeout: float = 240.0, extra: list[str] = (), state_dir: Path | None = None) -> InnerRun:
    """`state_dir`: the run's private files (default: beside the artifacts, never the
    user's ~/.local/state)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["SUITE_FAULTS"] = json.dumps(list(faults))
    env.pop("CONFIG", None)
    state_dir = state_dir or artifacts.parent / "state"
    cmd = [sys.executable, "-m", "pytest", *args, "-p", "faultplugin", "-p", "no:cacheprovider", "-q",
           "--artifacts", str(artifacts), "--state-dir", str(state_dir), "-o", "addopts=", "-rs", *extra]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    return InnerRun(proc.returncode, proc.stdout + proc.stderr, artifacts, state_dir)
