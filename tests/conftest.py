"""Fixtures shared by the fast tests of every part.

`sim` (session scope) starts ONE simulator with `simulator.launcher.start(...,
profile="fast")` for the whole test session and stops it at the end; its director is the
default, 2015 era. `sim_current` is a second one with a director of today, started only when
a test asks for it. It yields a `Sim`,
a `simulator.client.SimulatorClient` (see there: `config`, `session()`, `http`, `bosh()`,
`wait_task()`, `task_events()`, `deploy()`, `inject_fault()`) that also carries the
`process` and a `ca_file`.

The simulator is shared: use deployment/app names unique to your test module, and never
assume you are alone on it (other modules' cells take part in auctions too).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import launcher
from simulator.client import DIRECTOR, SimulatorClient
from simulator.director.era import DEFAULT_ERA

__all__ = ["DIRECTOR", "Sim"]


class Sim(SimulatorClient):
    def __init__(self, process: launcher.SimulatorProcess, ca_file: Path, era: str) -> None:
        self.process = process
        self.ca_file = ca_file
        self.era = era  # the director era it was started with: "2015" or "current"
        super().__init__(process.config())


def _simulator(era: str | None = None) -> Iterator[Sim]:
    with tempfile.TemporaryDirectory(prefix="sim-test-") as tmp:
        proc = launcher.start(Path(tmp), profile="fast", director_era=era)
        try:
            ca_file = Path(tmp) / "test-ca.pem"
            ca_file.write_text(proc.config()["bosh"]["ca_cert"])
            yield Sim(proc, ca_file, era or DEFAULT_ERA)
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
