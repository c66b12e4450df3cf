#!/usr/bin/env bash
# Shared by the task scripts: strict mode and installing the suite from its input.
set -euo pipefail
install_suite() {
  python -m pip install -q ./upgrade-suite >/dev/null
}
