"""`python -m manifests.spiff merge TEMPLATE [STUB...]`: spiff's command line."""

from __future__ import annotations

import sys

USAGE = "usage: python -m manifests.spiff merge TEMPLATE [STUB...]\n  (m is an alias for merge)\n"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("merge", "m"):
        sys.stderr.write(USAGE)
        return 1
    from . import SpiffError, UnresolvedNodesError, dump_yaml, merge_files_shared

    try:
        result = merge_files_shared(argv[1:])
    except UnresolvedNodesError as e:
        sys.stderr.write(e.message() + "\n")
        return 1
    except SpiffError as e:
        sys.stderr.write(str(e) + "\n")
        return 1
    try:
        sys.stdout.write(dump_yaml(result) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `| head`: not our error, but the output is incomplete
        sys.stderr.close()
        return 1
    return 0


if __name__ == "__main__":
    sys.setrecursionlimit(6000)
    sys.exit(main(sys.argv[1:]))
