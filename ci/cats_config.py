"""CATs' integration config for the CF of the piecewise deployment, from the suite's config.

    python -m ci.cats_config --config my-bosh-lite.yml --out cats.json [--cf-version 220|231]
    CONFIG=$PWD/cats.json ./bin/test_default     # in cf-release's CATs submodule at the deployed tag

The CATs of cf v220 and v231 name the Diego backend differently (`use_diego` / `backend`);
the CF version defaults to the `cf` release of the CF deployment on the director. Field names
and their sources: ci/acceptance_config.py.
"""

from __future__ import annotations

import argparse
import sys

from ci.acceptance_cli import run
from ci.acceptance_config import cats_config


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cf-version", help="220 or 231 (default: read from the CF deployment)")


def main(argv: list[str] | None = None) -> int:
    return run("python -m ci.cats_config", __doc__ or "", cats_config, _options, argv)


if __name__ == "__main__":
    sys.exit(main())
