"""The suite's own director client (helpers.bosh), run inside a private host.

The simulator of an oracle test listens on the loopback of the test's network namespace,
out of the test process's reach; this module is started there (`OracleEnv.director(...)`)
for what the real CLI cannot do: deploy on the 2015 director (bosh v7's `deploy` needs
`/diff`, which 1.3098 lacks) — which is also the suite's own client proving itself against
that director over the real path — and the simulator's fault admin route.

    python -m tests.oracles.director_client CONFIG deploy MANIFEST
    python -m tests.oracles.director_client CONFIG fault KIND TARGET [PARAMS_JSON]

Prints one JSON line (the task's id, state and result; or the fault's id).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from helpers.bosh import BoshError, Director
from helpers.config import parse_config


def main(argv: list[str]) -> int:
    config_path, command, *args = argv
    config = parse_config(yaml.safe_load(Path(config_path).read_text()), source=config_path)
    director = Director(config.bosh, config.resolver(), timeout=config.timeout)
    try:
        if command == "deploy":
            result = director.deploy(Path(args[0]).read_text())
            print(json.dumps({"id": result.id, "state": result.state, "result": result.result}))
        elif command == "fault":
            kind, target, *rest = args
            body = {"kind": kind, "target": target, "params": json.loads(rest[0]) if rest else {}}
            resp = director._request("POST", "/_simulator/faults", json=body)
            print(json.dumps({"id": resp.json()["id"]}))
        else:
            print(f"unknown command {command!r}", file=sys.stderr)
            return 2
    except BoshError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
