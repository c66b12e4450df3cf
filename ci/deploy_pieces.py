"""Deploy the five piecewise manifests (cf, database, brain-and-pals, cell1, cell2) through the
director API, as the upgrade suite does: one BOSH task per piece, live progress on the
terminal, and a failure that names the deployment and the BOSH task id.

    python -m ci.deploy_pieces --config CONFIG --manifests DIR

Order: a fresh environment is created CF first, then D1, D2, D3, D4 (Diego needs CF's
consul, NATS and etcd). An environment where all five exist is updated in the stories'
upgrade order (D1, D3, D2, CF, D4), so that one cell bank always runs while the other
updates. A half-present environment is finished in creation order.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from helpers.story import DEPLOYMENTS, UPGRADES
from manifests.sets import PIECE

PIECES = tuple(PIECE[d] for d in DEPLOYMENTS)  # creation order: cf, database, brain-and-pals, cell1, cell2
UPGRADE_ORDER = tuple(PIECE[op.deployment] for step in UPGRADES for op in step.ops if op.action == "deploy")


class PiecesError(RuntimeError):
    pass


def read_manifests(directory: Path) -> dict[str, str]:
    missing = [f"{piece}.yml" for piece in PIECES if not (directory / f"{piece}.yml").is_file()]
    if missing:
        raise PiecesError(f"{directory} lacks {', '.join(missing)} (python -m manifests generate writes all five)")
    return {piece: (directory / f"{piece}.yml").read_text() for piece in PIECES}


def plan(manifests: dict[str, str], existing: set[str]) -> list[tuple[str, str]]:
    """(piece, deployment name) in the order to deploy."""
    names = {piece: str((yaml.safe_load(text) or {}).get("name") or "") for piece, text in manifests.items()}
    unnamed = [piece for piece, name in names.items() if not name]
    if unnamed:
        raise PiecesError(f"manifests without a name: {', '.join(unnamed)}")
    order = UPGRADE_ORDER if set(names.values()) <= existing else PIECES
    return [(piece, names[piece]) for piece in order]


def deploy_all(director: Any, manifests: dict[str, str], log: Callable[[str], None] = print) -> list[int]:
    from helpers.bosh import format_event

    uuid = director.uuid()
    wrong = [piece for piece, text in manifests.items()
             if str((yaml.safe_load(text) or {}).get("director_uuid")) != uuid]
    if wrong:
        raise PiecesError(f"manifests for another director (director_uuid is not {uuid}): {', '.join(wrong)}")
    steps = plan(manifests, set(director.deployment_names()))
    log("deploy order: " + ", ".join(f"{piece} ({name})" for piece, name in steps))
    tasks = []
    for piece, name in steps:
        log(f"deploying {piece} as {name}")
        result = director.deploy(manifests[piece], on_event=lambda ev, name=name: log(f"  {name}: {format_event(ev)}"))
        log(f"{name}: task {result.id} {result.state} in {result.duration:.0f}s")
        tasks.append(result.id)
    return tasks


def main(argv: list[str] | None = None) -> int:
    from helpers.bosh import BoshError, Director
    from helpers.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="python -m ci.deploy_pieces", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--manifests", type=Path, required=True, help="directory with the five <piece>.yml")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if config is None:
            raise ConfigError(["--config names no file"])
        director = Director(config.bosh, config.resolver(), timeout=config.timeout)
        deploy_all(director, read_manifests(args.manifests))
    except (ConfigError, PiecesError, BoshError) as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
