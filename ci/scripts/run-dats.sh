#!/usr/bin/env bash
set -euo pipefail
. "$(dirname "$0")/cf-cli.sh"

# DATs of diego-release v0.1434.0 and earlier drive the Diego-SSH CLI plugin (`cf ssh APP CMD`,
# `cf get-ssh-code`): the release's own errand built it from its diego-ssh submodule
# (packages/acceptance-tests/packaging) and installed it into cf CLI 6.12.2. A CLI with a native
# `ssh` command (6.13.0 and later) refuses to install it, so these DATs cannot pass here.
if grep -q 'diego-ssh/cf-plugin' diego-release/packages/acceptance-tests/packaging; then
  echo "run-dats: the DATs at diego-release $(cat diego-release/.git/ref) drive the Diego-SSH CLI plugin," >&2
  echo "  which needs a cf CLI before 6.13.0; this task's CLI is $(cf --version)." >&2
  echo "  Run these DATs as docs/ci.md ('Ketchup and the DATs story') describes." >&2
  exit 1
fi

export CONFIG="$PWD/dats-config/integration_config.json"
export GOPATH="$PWD/diego-release"
export PATH="$GOPATH/bin:$PATH"
cd diego-release/src/github.com/cloudfoundry-incubator/diego-acceptance-tests
exec ./bin/test -nodes="$NODES"
