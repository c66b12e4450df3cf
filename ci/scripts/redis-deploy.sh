#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env > promotion-config.yml
python -m promotion deploy "$(cat latest-candidate/digest)" --env "$ENVIRONMENT" \
  --config promotion-config.yml --upstream redis-boshrelease
