"""Fixtures that run the real CLIs of ../shared/oracles/ against a simulator in a private host.

`oracle_env(**launcher options)` (a session-scoped factory) makes a private network and mount
namespace (tests/oracles/privatehost.py), starts a simulator inside it, relays BOSH-Lite's
well-known addresses to the simulator's ports, and returns an `OracleEnv` whose `bosh()` and
`cf()` run the real binaries inside the namespace with their own HOME. Each call returns a
`Result` (argv, returncode, stdout, stderr); `Result.describe()` is the failure message.
Launcher options pass through (`director_era="current"`, `preload=("v0",)`, ...); with
`vm_network_native=True` the namespace also owns the VM network 10.244.0.0/16 (on its
loopback), so the simulator's VMs have their real addresses there and the real CLIs dial
them directly (`bosh ssh` reaches the VM's sshd on <VM ip>:22). `director()` runs the suite's
own director client in the namespace (tests/oracles/director_client.py).

Everything is torn down at the end of the session: relays, simulator, namespace.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulator import launcher
from simulator.launcher import REPO_ROOT
from simulator.world import VM_NETWORK
from tests.oracles import binaries
from tests.oracles.privatehost import DIRECTOR_ADDRESS, PrivateHost, Result, bosh_lite_routes

DIRECTOR_URL = f"https://{DIRECTOR_ADDRESS}:25555"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class OracleEnv:
    host: PrivateHost
    sim: launcher.SimulatorProcess
    workdir: Path
    config: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.sim.config()
        self.ca_file = self.workdir / "director-ca.pem"
        self.ca_file.write_text(self.config["bosh"]["ca_cert"])

    # ------------------------------------------------------------------ bosh v7

    def bosh_env(self) -> dict[str, str]:
        bosh = self.config["bosh"]
        home = self.workdir / "bosh-home"
        home.mkdir(exist_ok=True)
        return {"PATH": PATH, "HOME": str(home), "BOSH_ENVIRONMENT": DIRECTOR_URL,
                "BOSH_CA_CERT": str(self.ca_file), "BOSH_NON_INTERACTIVE": "true",
                "BOSH_CLIENT": bosh.get("client") or bosh["username"],
                "BOSH_CLIENT_SECRET": bosh.get("client_secret") or bosh["password"]}

    def bosh(self, *args: str, deployment: str | None = None, cwd: Path | None = None,
             timeout: float = 300.0) -> Result:
        argv = [str(binaries.binary("bosh")), *(["-d", deployment] if deployment else []), *args]
        return self.host.run(argv, cwd=cwd or self.workdir, env=self.bosh_env(), timeout=timeout)

    def bosh_json(self, *args: str, deployment: str | None = None) -> list[dict[str, Any]]:
        """The rows of the first table of `bosh --json ...` (asserting the command succeeded)."""
        result = self.bosh("--json", *args, deployment=deployment)
        assert result.returncode == 0, result.describe()
        return json.loads(result.stdout)["Tables"][0]["Rows"]

    # ------------------------------------------------------------------ the suite's own client

    def director(self, *args: str, timeout: float = 300.0) -> Result:
        """`tests/oracles/director_client.py CONFIG *args` inside the namespace."""
        argv = [sys.executable, "-m", "tests.oracles.director_client", str(self.sim.config_path), *args]
        env = {"PATH": PATH, "HOME": str(self.workdir), "PYTHONPATH": str(REPO_ROOT)}
        return self.host.run(argv, cwd=REPO_ROOT, env=env, timeout=timeout)

    # ------------------------------------------------------------------ cf v6

    def cf_env(self) -> dict[str, str]:
        home = self.workdir / "cf-home"
        home.mkdir(exist_ok=True)
        return {"PATH": PATH, "HOME": str(home), "CF_HOME": str(home), "CF_COLOR": "false"}

    def cf(self, *args: str, cwd: Path | None = None, timeout: float = 300.0, input: str | None = None) -> Result:
        argv = [str(binaries.binary("cf")), *args]
        return self.host.run(argv, cwd=cwd or self.workdir, env=self.cf_env(), timeout=timeout, input=input)


@pytest.fixture(scope="session")
def oracle_env() -> Iterator[Callable[..., OracleEnv]]:
    """Factory: `oracle_env(profile="fast", preload=("v0", "v_prime"), **launcher kwargs)`."""
    made: list[tuple[PrivateHost, launcher.SimulatorProcess]] = []
    tmp = tempfile.TemporaryDirectory(prefix="oracle-")

    def make(**kwargs: Any) -> OracleEnv:
        workdir = Path(tmp.name) / f"env{len(made)}"
        workdir.mkdir()
        host = PrivateHost(workdir / "ns")
        if kwargs.get("vm_network_native"):
            host.addresses.append(str(VM_NETWORK))
        _, names = bosh_lite_routes({}, "bosh-lite.com")
        host.hostnames = names
        host.start()
        try:
            sim = launcher.start(workdir / "sim", wrapper=host.enter([], cwd=REPO_ROOT), **kwargs)
        except BaseException:
            host.close()
            raise
        made.append((host, sim))
        relays, _ = bosh_lite_routes(sim.config()["resolve"], sim.config()["cf"]["system_domain"])
        host.relay(relays)
        return OracleEnv(host, sim, workdir)

    try:
        yield make
    finally:
        for host, sim in reversed(made):
            sim.stop()
            host.close()
        tmp.cleanup()


def pytest_report_header(config: pytest.Config) -> str:
    return f"oracles: {binaries.ORACLES} (cache {binaries.cache_dir()}, uid {os.getuid()})"
