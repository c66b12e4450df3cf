"""Fixtures that run the real CLIs of ../shared/oracles/ against a simulator in a private host.

`oracle_env(hosts=None, **launcher options)` (a session-scoped factory) makes a private
network and mount namespace (tests/oracles/privatehost.py), starts a simulator inside it,
relays BOSH-Lite's well-known addresses to the simulator's ports, and returns an `OracleEnv`
whose `bosh()` and `cf()` run the real binaries inside the namespace with their own HOME.
Each call returns a `Result` (argv, returncode, stdout, stderr); `Result.describe()` is the
failure message. `hosts` overrides entries of the private /etc/hosts (name -> address), e.g.
to put a test-side adapter in front of one host; `OracleEnv.python(module, *args)` runs one
of the project's modules inside the namespace (set-up steps that must reach the simulator,
such as `tests.oracles.deploy_set`); `OracleEnv.spawn_ready(argv)` starts a helper there and
waits for its `ready` line. Launcher options pass through (`director_era="current"`,
`preload=("v0",)`, ...); with `vm_network_native=True` the namespace also owns the VM network
10.244.0.0/16 (on its loopback), so the simulator's VMs have their real addresses there and
the real CLIs dial them directly (`bosh ssh` reaches the VM's sshd at <VM ip>:22).

Everything is torn down at the end of the session: relays, simulator, namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fixtures import oracles as binaries
from simulator import launcher
from simulator.launcher import REPO_ROOT
from simulator.world import VM_NETWORK
from tests.oracles.privatehost import DIRECTOR_ADDRESS, PrivateHost, Result, bosh_lite_routes

DIRECTOR_URL = f"https://{DIRECTOR_ADDRESS}:25555"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class OracleEnv:
    host: PrivateHost
    sim: launcher.SimulatorProcess
    workdir: Path
    config: dict[str, Any] = field(init=False)
    cf_binary: Path | None = None  # another cf CLI than the oracle 6.53 (e.g. the era's, ERA_CF_CLI)

    def __post_init__(self) -> None:
        self.config = self.sim.config()
        self.ca_file = self.workdir / "director-ca.pem"
        self.ca_file.write_text(self.config["bosh"]["ca_cert"])

    # ------------------------------------------------------------------ bosh v7

    def bosh_env(self) -> dict[str, str]:
        """The bosh CLI's environment. `GODEBUG=x509sha1=1`: the CLI is built with Go 1.19, which
        refuses SHA-1 certificate signatures, and a 2015 BOSH-Lite director's certificate is
        SHA-1 signed (tests/oracles/test_tls_oracles.py shows both); Go's own switch, honoured
        from Go 1.18 to 1.23, is what a user of bosh v7 against such a director must set too."""
        bosh = self.config["bosh"]
        home = self.workdir / "bosh-home"
        home.mkdir(exist_ok=True)
        return {"PATH": PATH, "HOME": str(home), "BOSH_ENVIRONMENT": DIRECTOR_URL,
                "BOSH_CA_CERT": str(self.ca_file), "BOSH_NON_INTERACTIVE": "true",
                "BOSH_CLIENT": bosh.get("client") or bosh["username"],
                "BOSH_CLIENT_SECRET": bosh.get("client_secret") or bosh["password"],
                "GODEBUG": "x509sha1=1"}

    def bosh(self, *args: str, deployment: str | None = None, cwd: Path | None = None,
             timeout: float = 300.0, env: dict[str, str | None] | None = None) -> Result:
        """Run the bosh CLI; `env` overrides `bosh_env()` (a None value removes the variable)."""
        argv = [str(binaries.binary("bosh")), *(["-d", deployment] if deployment else []), *args]
        return self.host.run(argv, cwd=cwd or self.workdir, env=_merged(self.bosh_env(), env), timeout=timeout)

    def bosh_json(self, *args: str, deployment: str | None = None) -> list[dict[str, Any]]:
        """The rows of the first table of `bosh --json ...` (asserting the command succeeded)."""
        result = self.bosh("--json", *args, deployment=deployment)
        assert result.returncode == 0, result.describe()
        return json.loads(result.stdout)["Tables"][0]["Rows"]

    # ------------------------------------------------------------------ cf v6

    def cf_env(self) -> dict[str, str]:
        home = self.workdir / "cf-home"
        home.mkdir(exist_ok=True)
        return {"PATH": PATH, "HOME": str(home), "CF_HOME": str(home), "CF_COLOR": "false"}

    def cf(self, *args: str, cwd: Path | None = None, timeout: float = 300.0, input: str | None = None,
           env: dict[str, str | None] | None = None) -> Result:
        """Run the cf CLI; `env` overrides `cf_env()` (e.g. `SSL_CERT_FILE`, which Go reads; a None
        value removes the variable)."""
        argv = [str(self._cf()), *args]
        return self.host.run(argv, cwd=cwd or self.workdir, env=_merged(self.cf_env(), env), timeout=timeout,
                             input=input)

    def cf_spawn(self, *args: str, cwd: Path | None = None,
                 env: dict[str, str | None] | None = None) -> subprocess.Popen[bytes]:
        """A long-running cf command (e.g. `cf logs APP`), stdout+stderr piped; killed at close."""
        return self.host.spawn([str(self._cf()), *args], cwd=cwd or self.workdir, env=_merged(self.cf_env(), env))

    def _cf(self) -> Path:
        return self.cf_binary or binaries.binary("cf")

    # ------------------------------------------------------------------ helpers in the namespace

    def python(self, module: str, *args: str, timeout: float = 600.0) -> Result:
        """`python -m module args` with the project's interpreter, inside the namespace."""
        return self.host.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                             env={"PATH": PATH, "HOME": str(self.workdir)}, timeout=timeout)

    def spawn_ready(self, argv: list[str], timeout: float = 20.0) -> subprocess.Popen[bytes]:
        """Start a helper inside the namespace and wait for its `ready` line."""
        child = self.host.spawn(argv, cwd=REPO_ROOT, env={"PATH": PATH, "HOME": str(self.workdir)})
        assert child.stdout is not None
        line = child.stdout.readline().decode().strip()
        if line != "ready":
            rest = child.stdout.read().decode() if child.poll() is not None else ""
            raise RuntimeError(f"{argv[0:3]} did not start: {line!r} {rest}")
        return child


def _merged(base: dict[str, str], overrides: dict[str, str | None] | None) -> dict[str, str]:
    out = dict(base)
    for key, value in (overrides or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="session")
def oracle_env() -> Iterator[Callable[..., OracleEnv]]:
    """Factory: `oracle_env(profile="fast", preload=("v0", "v_prime"), **launcher kwargs)`."""
    made: list[tuple[PrivateHost, launcher.SimulatorProcess]] = []
    tmp = tempfile.TemporaryDirectory(prefix="oracle-")

    def make(hosts: dict[str, str] | None = None, **kwargs: Any) -> OracleEnv:
        workdir = Path(tmp.name) / f"env{len(made)}"
        workdir.mkdir()
        host = PrivateHost(workdir / "ns")
        if kwargs.get("vm_network_native"):
            host.addresses.append(str(VM_NETWORK))
        _, names = bosh_lite_routes({}, "bosh-lite.com")
        host.hostnames = {**names, **(hosts or {})}
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


# The era's own cf CLI is not among the oracles (docs: test_cf_cli_era.py); its tests run only
# when a binary is named, and the report header says whether they did.
ERA_CF_CLI = os.environ.get("ERA_CF_CLI")
collect_ignore = [] if ERA_CF_CLI else ["test_cf_cli_era.py"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    era = f"ERA_CF_CLI={ERA_CF_CLI}" if ERA_CF_CLI else "not given (set ERA_CF_CLI): test_cf_cli_era.py not collected"
    return [f"oracles: {binaries.ORACLES} (cache {binaries.cache_dir()}, uid {os.getuid()})",
            f"era cf CLI: {era}"]
