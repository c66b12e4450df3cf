"""Print the director's uuid (for `manifests generate --director-uuid`), reached as the suite
config says: CA, TLS options and resolve map included.

    python -m ci.director_uuid --config CONFIG
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from helpers.bosh import BoshError, Director
    from helpers.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="python -m ci.director_uuid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if config is None or not config.bosh.url:
            raise ConfigError(["the config names no director (bosh.url)"])
        print(Director(config.bosh, config.resolver(), timeout=config.timeout).uuid())
    except (ConfigError, BoshError) as exc:
        print(f"cannot read the director's uuid: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
