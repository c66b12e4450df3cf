#!/usr/bin/env bash
# cf v231's CATs have a Diego-only entry point (skips NO_DIEGO_SUPPORT); v220's have one.
set -euo pipefail
. "$(dirname "$0")/cf-cli.sh"
export CONFIG="$PWD/cats-config/integration_config.json"
cd cf-release/src/github.com/cloudfoundry/cf-acceptance-tests
if [ -x bin/diego_test_default ]; then
  exec ./bin/diego_test_default -nodes="$NODES"
fi
exec ./bin/test_default -nodes="$NODES"
