"""What the bosh CLI tests deploy, the generated V0 Diego database deployment (D1), and
the steps both eras' tests share.

`python -m manifests generate --versions v0 --target bosh-lite --director-uuid UUID` writes
the five V0 manifests; the database one is the smallest (one instance, `database_z1/0`, with
etcd, bbs, consul_agent and metron_agent), so every command runs against a real V0 piece.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from fixtures import oracles as binaries
from simulator.launcher import REPO_ROOT
from tests.oracles.privatehost import Result

DEPLOYMENT = "cf-warden-diego-database"
GROUP = "database_z1"
JOBS = ("etcd", "bbs", "consul_agent", "metron_agent")


def generate_v0(director_uuid: str, out: Path) -> Path:
    """The V0 manifests for this director; the path of the database one."""
    proc = subprocess.run([sys.executable, "-m", "manifests", "generate", "--versions", "v0", "--target", "bosh-lite",
                           "--director-uuid", director_uuid, "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (f"manifests generate --versions v0 (director {director_uuid}) exited "
                                  f"{proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return out / "database.yml"


def tarball_members(path: Path) -> dict[str, str]:
    """name -> text of each file in a .tgz (a `bosh logs` download)."""
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar:
            if m.isfile():
                fh = tar.extractfile(m)
                out[m.name] = fh.read().decode("utf-8", "replace") if fh else ""
    return out


def ok(result: Result) -> Result:
    """The result of a CLI command that must succeed (its whole story when it did not)."""
    assert result.returncode == 0, result.describe()
    return result


def the_vm(env: Any) -> dict[str, str]:
    """`bosh vms` row of the deployment's one VM."""
    rows = env.bosh_json("vms", deployment=DEPLOYMENT)
    assert len(rows) == 1, f"{DEPLOYMENT}: expected one VM, bosh vms gave {rows}"
    return rows[0]


def locks_while_running(env: Any, *bosh_args: str, delay: float = 3.0) -> list[dict[str, str]]:
    """`bosh locks` rows seen while `bosh -d DEPLOYMENT <bosh_args>` runs, its task held
    back `delay` seconds by the simulator's `delay_next_task` fault; asserts the command
    then succeeded."""
    fault = env.python("tests.oracles.inject_fault", str(env.sim.config_path), "delay_next_task", DEPLOYMENT,
                       json.dumps({"seconds": delay}))
    assert fault.returncode == 0, fault.describe()
    holder = env.host.spawn([str(binaries.binary("bosh")), "-d", DEPLOYMENT, *bosh_args], env=env.bosh_env(),
                            cwd=env.workdir)
    rows: list[dict[str, str]] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not rows:
            rows = env.bosh_json("locks")
            time.sleep(0.2)
    finally:
        out, _ = holder.communicate(timeout=120)
    assert holder.returncode == 0, (f"bosh -d {DEPLOYMENT} {' '.join(bosh_args)} (task held back {delay}s) "
                                    f"exited {holder.returncode}:\n" + out.decode(errors="replace")[-3000:])
    return rows
