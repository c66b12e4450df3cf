#!/usr/bin/env bash
set -euo pipefail
. "$(dirname "$0")/cf-cli.sh"
export CONFIG="$PWD/dats-config/integration_config.json"
export GOPATH="$PWD/diego-release"
export PATH="$GOPATH/bin:$PATH"
cd diego-release/src/github.com/cloudfoundry-incubator/diego-acceptance-tests
exec ./bin/test -nodes="$NODES"
