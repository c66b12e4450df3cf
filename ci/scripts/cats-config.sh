#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
require_tag cf-release "$(release_version cf-release-candidate/*.tgz)"
python -m ci.suite_config --from-env --out suite-config.yml
python -m ci.cats_config --config suite-config.yml --out cats-config/integration_config.json
