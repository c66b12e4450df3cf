#!/usr/bin/env bash
# Credentials come from the task's params (environment) or are generated; never on a command line.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.bosh_lite provision --run-id "$(cat run-id/id)" --out bosh-lite
