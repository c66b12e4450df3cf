#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.upload_releases --config bosh-lite/config.yml \
  --stemcell bosh-lite-stemcell/stemcell.tgz \
  v0-cf-release/release.tgz v0-diego-release/release.tgz v0-garden-linux-release/release.tgz \
  cf-release-candidate/*.tgz diego-release-candidate/*.tgz \
  garden-linux-release-candidate/*.tgz etcd-release-candidate/*.tgz
