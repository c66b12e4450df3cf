#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
require_tag diego-release "$(release_version diego-release-candidate/*.tgz)"
python -m ci.suite_config --from-env --out suite-config.yml
python -m ci.dats_config --config suite-config.yml --out dats-config/integration_config.json
