#!/usr/bin/env bash
# The smoke suite against ketchup's CF (a CF-only config is enough for it).
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --out smoke-config.yml
cd upgrade-suite
python -m pytest suites/smoke --config ../smoke-config.yml --artifacts ../artifacts \
  --junitxml ../artifacts/junit.xml
