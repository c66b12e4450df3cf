#!/usr/bin/env bash
# CATs come from cf-release's acceptance-tests submodule and run with their own runner.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --format cats > cats-config.json
export CONFIG="$PWD/cats-config.json"
cd cf-release/src/github.com/cloudfoundry/cf-acceptance-tests
./bin/test -nodes=4
