#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env > smoke-config.yml
cd upgrade-suite
python -m pytest suites/smoke --config ../smoke-config.yml --artifacts ../artifacts \
  --junitxml ../artifacts/junit.xml
