#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
install_suite
# the git resource writes .git/commit_timestamp (`timestamp_format: unix` on the get): the
# newest of the two commits is the candidate's source date, whatever the files' mtimes
SOURCE_DATE_EPOCH=0
for checkout in upgrade-suite redis-boshrelease; do
  stamp="$(cat "$checkout/.git/commit_timestamp" 2>/dev/null || true)"
  case "$stamp" in
    ''|*[!0-9]*) echo "$checkout: no unix commit timestamp (get it with params: {timestamp_format: unix})" >&2
                 exit 1 ;;
  esac
  if [ "$stamp" -gt "$SOURCE_DATE_EPOCH" ]; then SOURCE_DATE_EPOCH="$stamp"; fi
done
export SOURCE_DATE_EPOCH
for checkout in upgrade-suite redis-boshrelease; do  # the candidate records their revisions
  git config --global --add safe.directory "$PWD/$checkout"
done
python -m ci.suite_config --from-env --out promotion-config.yml
# bosh-io resources write the version they fetched to a `version` file
python -m promotion build --config promotion-config.yml --upstream redis-boshrelease \
  --templates upgrade-suite/manifests/redis \
  --release "redis=$(cat redis-release/version)" \
  --stemcell-name bosh-warden-boshlite-ubuntu-trusty-go_agent --stemcell-version "$(cat stemcell/version)" \
  --digest-file candidate/digest
echo "candidate $(cat candidate/digest) (source date $SOURCE_DATE_EPOCH)"
