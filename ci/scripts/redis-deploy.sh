#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --out promotion-config.yml
# the s3 resource names the fetched file after the object: redis/latest-candidate -> latest-candidate
python -m ci.gateway --config promotion-config.yml -- \
  python -m promotion deploy "$(cat latest-candidate/latest-candidate)" --env "$ENVIRONMENT"
