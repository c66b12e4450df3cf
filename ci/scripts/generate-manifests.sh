#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.release_versions --stemcell bosh-lite-stemcell/stemcell.tgz \
  cf-release-candidate/*.tgz diego-release-candidate/*.tgz \
  garden-linux-release-candidate/*.tgz etcd-release-candidate/*.tgz > manifests/v_prime-versions.yml
python -m ci.generate_manifests --config bosh-lite/config.yml \
  --v-prime-versions manifests/v_prime-versions.yml --out manifests
