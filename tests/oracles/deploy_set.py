"""Deploy a generated version set's piecewise deployments on a simulator, from inside the
private host: `python -m tests.oracles.deploy_set CONFIG OUT_DIR VERSIONS PIECE...`.

Why a script: the simulator of an oracle test listens on loopback ports *inside* the test's
network namespace, which the test process cannot reach; the real CLIs run in there, and so
does this set-up step (with the suite's own clients: manifest generation and the director
client, as the suite deploys V0). Prints one JSON line: piece -> deployment name. Exit 1 with
the director's task story on failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers.bosh import Director
from helpers.config import load_config
from manifests.generate import PIECES, generate


def main(argv: list[str]) -> int:
    config_path, out, versions, *pieces = argv
    config = load_config(config_path)
    assert config is not None
    director = Director(config.bosh, config.resolver())
    out_dir = Path(out)
    paths = generate(versions, director_uuid=director.uuid(), out=out_dir / versions,
                     secrets_file=out_dir / "secrets.yml", cf_admin_user=config.cf.admin_user,
                     cf_admin_password=config.cf.admin_password)
    names = {}
    for piece in pieces or list(PIECES):
        result = director.deploy(paths[piece].read_text())
        if result.state != "done":
            print(f"deploying {piece} ({versions}) failed: {result}", file=sys.stderr)
            return 1
        names[piece] = f"cf-warden{PIECES[piece]}"
    print(json.dumps(names), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
