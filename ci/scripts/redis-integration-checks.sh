#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env > promotion-config.yml
cd upgrade-suite
python -m pytest suites/redis_promotion/test_integration.py --config ../promotion-config.yml \
  --redis-env "$ENVIRONMENT" --candidate "$(cat ../latest-candidate/digest)" \
  --junitxml ../artifacts/junit.xml
