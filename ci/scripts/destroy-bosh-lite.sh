#!/usr/bin/env bash
# Finds everything tagged with the run id and removes it; safe to repeat.
. "$(dirname "$0")/lib.sh"
if [ ! -s run-id/id ]; then
  echo "no run id was allocated; nothing to destroy"
  exit 0
fi
install_suite
python -m ci.bosh_lite destroy --run-id "$(cat run-id/id)"
