#!/usr/bin/env bash
# The ketchup environment follows the candidate, piecewise, through the suite's own director
# client (helpers.bosh): TLS verified with the director's CA, credentials from the params.
. "$(dirname "$0")/lib.sh"
install_suite
python -m ci.suite_config --from-env --out ketchup-config.yml
require_tag cf-release "$(release_version cf-release-candidate/*.tgz)"
require_tag diego-release "$(release_version diego-release-candidate/*.tgz)"
candidates=(cf-release-candidate/*.tgz diego-release-candidate/*.tgz garden-linux-release-candidate/*.tgz
            etcd-release-candidate/*.tgz)
python -m ci.release_versions --stemcell stemcell/stemcell.tgz "${candidates[@]}" > candidate-versions.yml
python -m ci.upload_releases --config ketchup-config.yml --stemcell stemcell/stemcell.tgz "${candidates[@]}"
python -m manifests generate --cf-release cf-release --diego-release diego-release \
  --versions candidate-versions.yml --target "$KETCHUP_TARGET" --prefix "$DEPLOYMENT_PREFIX" \
  --director-uuid "$(python -m ci.director_uuid --config ketchup-config.yml)" --out ketchup-manifests
python -m ci.deploy_pieces --config ketchup-config.yml --manifests ketchup-manifests
