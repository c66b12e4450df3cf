"""Fixtures shared by the fast tests of every part.

`sim` (session scope) starts ONE simulator with `simulator.launcher.start(...,
profile="fast")` for the whole test session and stops it at the end; its director is the
default, 2015 era. `sim_current` is a second one with a director of today, started only when
a test asks for it. It yields a `Sim`,
a `simulator.client.SimulatorClient` (see there: `config`, `session()`, `http`, `bosh()`,
`wait_task()`, `task_events()`, `deploy()`, `inject_fault()`) that also carries the
`process`, a `ca_file` (the director's CA) and `haproxy_ssl_pem`: the `ha_proxy.ssl_pem` that
every CF deployment a test makes on this simulator must carry (HAProxy serves HTTPS only with
one), and that `sim.http` and `sim.cf_config()` trust for CF hosts.

The simulator is shared: use deployment/app names unique to your test module, and never
assume you are alone on it (other modules' cells take part in auctions too).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.config import Config, load_config
from helpers.net import pem_certificates
from manifests import secrets
from simulator import launcher
from simulator.client import DIRECTOR, SimulatorClient
from simulator.director.era import DEFAULT_ERA

__all__ = ["DIRECTOR", "Sim"]


class Sim(SimulatorClient):
    def __init__(self, process: launcher.SimulatorProcess, ca_file: Path, haproxy_ssl_pem: str, era: str) -> None:
        self.process = process
        self.ca_file = ca_file
        self.haproxy_ssl_pem = haproxy_ssl_pem
        self.era = era  # the director era it was started with: "2015" or "current"
        super().__init__(process.config(), cf_trust=pem_certificates(haproxy_ssl_pem))

    def cf_config(self) -> Config:
        """The simulator's suite config, trusting `haproxy_ssl_pem` for CF (as the suite does
        after deploying it)."""
        config = load_config(self.process.config_path)
        assert config is not None
        return config.with_cf_trust(self.cf_trust)


def _simulator(era: str | None = None) -> Iterator[Sim]:
    with tempfile.TemporaryDirectory(prefix="sim-test-") as tmp:
        proc = launcher.start(Path(tmp), profile="fast", director_era=era)
        try:
            ca_file = Path(tmp) / "test-ca.pem"
            ca_file.write_text(proc.config()["bosh"]["ca_cert"])
            pem = secrets.complete({}, proc.config()["cf"]["system_domain"])[0]["ha_proxy_ssl_pem"]
            yield Sim(proc, ca_file, pem, era or DEFAULT_ERA)
        finally:
            proc.stop()


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    """The default simulator: its director is the era-exact 2015 one (bosh 1.3098.0, basic auth)."""
    yield from _simulator()


@pytest.fixture(scope="session")
def sim_current() -> Iterator[Sim]:
    """A simulator whose director is one of today (`--director-era current`: UAA auth,
    `/instances`, `/diff`, `/events`, ...). Started on first use only."""
    yield from _simulator("current")


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The real redis-server the simulator's `redis` job runs. Missing, the tests that need it
    fail (never skip): a machine without it would otherwise report green having tested none of
    the Redis checks."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail("redis-server is not on the PATH: these tests run the real one "
                    "(Debian: apt-get install redis-server; .ci/run installs it)", pytrace=False)
    return path
