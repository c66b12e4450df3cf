#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.bosh_lite new-run-id > run-id/id
echo "run id: $(cat run-id/id)"
