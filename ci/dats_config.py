"""DATs' integration config for the piecewise CF + Diego deployment, from the suite's config.

    python -m ci.dats_config --config my-bosh-lite.yml --out dats.json [--secure-address IP:PORT]
    CONFIG=$PWD/dats.json ./bin/test      # in diego-release's DATs submodule at the deployed tag

`secure_address` defaults to CF's etcd (from the CF deployment's manifest on the director),
the endpoint DATs' security-group test expects no container to reach. Field names and their
sources: ci/acceptance_config.py.
"""

from __future__ import annotations

import argparse
import sys

from ci.acceptance_cli import run
from ci.acceptance_config import dats_config


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secure-address", metavar="IP:PORT", help="default: CF's etcd, from the director")


def main(argv: list[str] | None = None) -> int:
    return run("python -m ci.dats_config", __doc__ or "", dats_config, _options, argv)


if __name__ == "__main__":
    sys.exit(main())
