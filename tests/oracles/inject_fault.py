"""Inject a simulator fault from inside the private host (the director's admin route is on
the namespace's loopback, out of the test process's reach), with the project's simulator
client: `python -m tests.oracles.inject_fault CONFIG KIND TARGET [PARAMS_JSON]`. Prints the
fault's id."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from simulator.client import SimulatorClient


def main(argv: list[str]) -> int:
    config_path, kind, target, *rest = argv
    client = SimulatorClient(yaml.safe_load(Path(config_path).read_text()))
    print(client.inject_fault(kind, target, params=json.loads(rest[0]) if rest else {}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
