#!/usr/bin/env bash
# Launches the BOSH-Lite image, opens the director/router/ssh ports, waits for the
# director's /info, and writes the suite config to bosh-lite/config.yml. Credentials come
# from the task's params (environment), never from the command line.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.bosh_lite provision --run-id "$(cat run-id/id)" --out bosh-lite
