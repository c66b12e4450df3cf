#!/usr/bin/env bash
# The long-lived ketchup environment is generated from the release checkouts, pinned to
# the candidate tarballs' versions.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.release_versions cf-release-candidate/*.tgz diego-release-candidate/*.tgz \
  garden-linux-release-candidate/*.tgz etcd-release-candidate/*.tgz > candidate-versions.yml
python -m manifests generate --cf-release cf-release --diego-release diego-release \
  --versions candidate-versions.yml --target bosh-lite \
  --director-url "$KETCHUP_DIRECTOR_URL" --out ketchup-manifest
