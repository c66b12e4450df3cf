#!/usr/bin/env bash
# Shared by the task scripts: strict mode, the suite installed from its checkout, and checks
# that a release checkout is at the tag of the version under test.
set -euo pipefail

# Editable install: the package runs from the checkout (templates, git revision), so what is
# built is what the commit holds. SKIP_SUITE_INSTALL=1: the image already has it (tests).
install_suite() {
  if [ "${SKIP_SUITE_INSTALL:-}" != 1 ]; then
    python -m pip install -q -e ./upgrade-suite >/dev/null
  fi
}

# require_tag CHECKOUT VERSION: the git input must be at tag vVERSION (the release under test).
require_tag() {
  local checkout="$1" version="$2" tags
  git config --global --add safe.directory "$PWD/$checkout"
  tags="$(git -C "$checkout" tag --points-at HEAD | tr '\n' ' ')"
  case " $tags " in
    *" v$version "*) echo "$checkout is at v$version" ;;
    *) echo "$checkout is at $(git -C "$checkout" rev-parse --short HEAD) (tags: ${tags:-none}), not at v$version:" \
            "the tests must come from the release under test; wait for the tag, or re-run with the matching version" >&2
       return 1 ;;
  esac
}

# release_version TARBALL: the version in a release tarball's release.MF
release_version() {
  python -m ci.release_versions "$1" | sed -n 's/^[^ ]*: *//p' | tr -d "'\""
}
