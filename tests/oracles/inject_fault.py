"""Inject a simulator fault from inside the private host (the director's admin route is on
the namespace's loopback, out of the test process's reach), with the suite's own director
client: `python -m tests.oracles.inject_fault CONFIG KIND TARGET [PARAMS_JSON]`. Prints the
fault's id."""

from __future__ import annotations

import json
import sys

from helpers.bosh import Director
from helpers.config import load_config


def main(argv: list[str]) -> int:
    config_path, kind, target, *rest = argv
    config = load_config(config_path)
    assert config is not None
    director = Director(config.bosh, config.resolver())
    body = {"kind": kind, "target": target, "params": json.loads(rest[0]) if rest else {}}
    print(director._request("POST", "/_simulator/faults", json=body).json()["id"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
