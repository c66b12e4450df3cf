"""Print a manifest version file (release name -> version, and the stemcell) read from
release and stemcell tarballs: this is how V-prime is pinned to the pipeline's candidate.

    python -m ci.release_versions [--stemcell STEMCELL.tgz] RELEASE.tgz... > versions.yml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from helpers.releases import TarballError, read_release, read_stemcell


def versions_from_tarballs(releases: list[Path], stemcell: Path | None) -> dict[str, Any]:
    problems: list[str] = []
    versions: dict[str, Any] = {}
    for path in releases:
        try:
            info = read_release(path)
        except TarballError as exc:
            problems.append(str(exc))
            continue
        if info.name in versions and versions[info.name] != info.version:
            problems.append(f"{path}: release {info.name} given twice ({versions[info.name]} and {info.version})")
        versions[info.name] = info.version
    if stemcell is not None:
        try:
            cell = read_stemcell(stemcell)
            versions["stemcell"] = {"name": cell.name, "version": cell.version}
        except TarballError as exc:
            problems.append(str(exc))
    if problems:
        raise TarballError("cannot read the release versions:\n  - " + "\n  - ".join(problems))
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.release_versions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stemcell", type=Path)
    parser.add_argument("releases", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        versions = versions_from_tarballs(args.releases, args.stemcell)
    except TarballError as exc:
        print(exc, file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump(versions, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
