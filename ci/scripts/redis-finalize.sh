#!/usr/bin/env bash
# The final redis release, cut by `python -m promotion finalize` from the dev release that
# passed dev1 or dev2, in a copy of the release repository that the put pushes back with the
# final release committed (releases/, .final_builds/).
. "$(dirname "$0")/lib.sh"
install_suite
cp -a redis-boshrelease/. finalized-release/
git config --global --add safe.directory "$PWD/finalized-release"
python -m ci.suite_config --from-env --out promotion-config.yml
if [ -n "${RELEASE_PRIVATE_YML:-}" ]; then  # the release blobstore's credentials: never echoed,
  # and gone when the task ends: finalized-release is an output, streamed to the put and kept
  trap 'rm -f finalized-release/config/private.yml' EXIT
  (umask 077 && printf '%s\n' "$RELEASE_PRIVATE_YML" > finalized-release/config/private.yml)
fi
bosh_cli="$(echo bosh-cli/bosh-cli-*-linux-amd64)"
chmod +x "$bosh_cli"
python -m promotion finalize --config promotion-config.yml --release-dir finalized-release \
  --dev-release "$DEV_RELEASE" --checkout --bosh-cli "$bosh_cli" --tarball final-release/release.tgz
# named as the redis-release resource's regexp expects: NAME-VERSION.tgz
name="$(python -m ci.release_versions final-release/release.tgz | sed -n '1s/:.*//p')"
version="$(release_version final-release/release.tgz)"
mv final-release/release.tgz "final-release/$name-$version.tgz"
git -C finalized-release add releases .final_builds
git -C finalized-release -c user.name="redis pipeline" -c user.email="redis-pipeline@localhost" \
  commit --quiet -m "Final release $version"
echo "final release $name/$version: final-release/$name-$version.tgz"
