"""Fixtures shared by the fast tests of every part.

`sim` (session scope) starts ONE simulator with `simulator.launcher.start(...,
profile="fast")` for the whole test session and stops it at the end. It yields a `Sim`,
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

__all__ = ["DIRECTOR", "Sim"]


class Sim(SimulatorClient):
    def __init__(self, process: launcher.SimulatorProcess, ca_file: Path) -> None:
        self.process = process
        self.ca_file = ca_file
        super().__init__(process.config())


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    with tempfile.TemporaryDirectory(prefix="sim-test-") as tmp:
        proc = launcher.start(Path(tmp), profile="fast")
        try:
            ca_file = Path(tmp) / "test-ca.pem"
            ca_file.write_text(proc.config()["bosh"]["ca_cert"])
            yield Sim(proc, ca_file)
        finally:
            proc.stop()
