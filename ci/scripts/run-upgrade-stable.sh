#!/usr/bin/env bash
# Runs the suite with the generated config and manifests; the artifacts (report, samples,
# timeline, task logs, JUnit) are packed whatever the outcome, then the exit code is kept.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --config bosh-lite/config.yml --manifests manifests --out run-config.yml
set +e
(cd upgrade-suite && python -m pytest suites/upgrade_stable --config ../run-config.yml \
  --artifacts ../artifacts/report --junitxml ../artifacts/report/junit.xml)
rc=$?
set -e
tar -czf "artifacts/upgrade-stable-$(date +%Y%m%d%H%M%S).tgz" -C artifacts report
exit "$rc"
