"""The command line shared by `python -m ci.dats_config` and `python -m ci.cats_config`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci.acceptance_config import AcceptanceConfigError, dumps
from ci.suite_config import write_private


def run(prog: str, doc: str, build: Callable[..., dict[str, Any]], extra: Callable[[argparse.ArgumentParser], None],
        argv: list[str] | None) -> int:
    from helpers.bosh import BoshError, Director
    from helpers.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the suite config (the same file the suites use)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write (mode 0600)")
    parser.add_argument("--timeout-scale", type=float)
    parser.add_argument("--artifacts-directory")
    extra(parser)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if config is None:
            raise ConfigError(["--config names no file"])
        manifest_of = None
        if config.bosh.url:
            director = Director(config.bosh, config.resolver(), timeout=config.timeout)
            manifest_of = director.deployment_manifest
        options = {k: v for k, v in vars(args).items() if k not in ("config", "out")}
        fields = build(config, manifest_of=manifest_of, **options)
    except (ConfigError, AcceptanceConfigError, BoshError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    write_private(args.out, dumps(fields))
    print(f"wrote {args.out} with fields: {', '.join(sorted(fields))}")  # names only: values hold secrets
    return 0
