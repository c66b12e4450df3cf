#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env > promotion-config.yml
# bosh-io resources write the version they fetched to a `version` file
python -m promotion build --config promotion-config.yml --upstream redis-boshrelease \
  --release "redis=$(cat redis-release/version)" \
  --stemcell-name bosh-warden-boshlite-ubuntu-trusty-go_agent --stemcell-version "$(cat stemcell/version)" \
  --digest-file candidate/digest
echo "candidate $(cat candidate/digest)"
