#!/usr/bin/env bash
# DATs (diego-acceptance-tests) from the diego-release checkout, with their own runner.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --format cats > dats-config.json
export CONFIG="$PWD/dats-config.json"
cd diego-release/src/github.com/cloudfoundry-incubator/diego-acceptance-tests
./bin/test -nodes=4
