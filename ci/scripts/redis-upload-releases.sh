#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --out director-config.yml
python -m ci.upload_releases --config director-config.yml --stemcell stemcell/stemcell.tgz redis-release/redis-*.tgz
