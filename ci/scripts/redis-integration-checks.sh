#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --out promotion-config.yml
cd upgrade-suite
# ci.gateway hands the command a config whose resolve map sends the Redis network through the
# gateway ($CONFIG); without REDIS_GATEWAY it runs the command as it is
python -m ci.gateway --config ../promotion-config.yml -- \
  python -m pytest suites/redis_promotion/test_integration.py --redis-env "$ENVIRONMENT" \
  --candidate "$(cat ../latest-candidate/latest-candidate)" --junitxml ../artifacts/junit.xml
