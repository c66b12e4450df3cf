"""Reliability tests: each starts its own simulator and runs the suite in a child pytest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import write_config


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator:
    """`sim_factory(preload=("v0", "v_prime"), director_era=None, **config_overrides) ->
    (SimulatorProcess, config path)`; every simulator started is stopped at teardown."""
    from simulator.launcher import start

    started = []

    def make(preload: tuple[str, ...] = ("v0", "v_prime"), director_era: str | None = None, **overrides):
        sim = start(tmp_path / f"sim{len(started)}", "fast", preload=preload, director_era=director_era)
        started.append(sim)
        return sim, write_config(sim.config_path, tmp_path / f"config{len(started)}.yml", **overrides)

    yield make
    for sim in started:
        sim.stop()
