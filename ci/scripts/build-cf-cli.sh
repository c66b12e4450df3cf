#!/usr/bin/env bash
# The cf CLI that CATs and DATs run, built from the `cf-cli-source` input: the cli repository
# at the commit the pipeline pins (why this CLI, and why built rather than downloaded:
# docs/ci.md, "The cf CLI"). The steps are the CLI's own release build at that commit
# (bin/replace-sha: version "VERSION+short sha"; bin/generate-language-resources; bin/build:
# `go build ./main` with the vendored dependencies), changed so that the result depends on
# pinned inputs only: the translations are embedded by our own generator instead of a `go get`
# of go-bindata at build time, and the build date is the commit's date. cgo is off: a static
# binary, which runs in the CATs and DATs images whatever their libc.
set -euo pipefail
root="$PWD"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p cf-cli

# a scratch GOPATH (emptied first) at a fixed path, so the source paths compiled into the binary
# do not change from build to build
gopath="${CF_CLI_GOPATH:-/tmp/cf-cli-gopath}"
src="$gopath/src/github.com/cloudfoundry/cli"
rm -rf "$gopath"
mkdir -p "$(dirname "$src")"
cp -a cf-cli-source "$src"

commit="$(git -C "$src" rev-parse HEAD)"
version="$(cat "$src/VERSION")+$(git -C "$src" rev-parse --short=7 HEAD)"
built_on="$(git -C "$src" log -1 --format=%cd --date=short HEAD)"
echo "building cf $version (commit $commit) with $(go version)"

(cd "$src" && go run "$here/cf-cli-i18n-resources.go" \
  cf/i18n/resources cf/resources/i18n_resources.go)
# dependencies: vendor/ from v6.14.1 on, Godeps/_workspace before (bin/build at each tag)
GOPATH="$gopath:$src/Godeps/_workspace" GO15VENDOREXPERIMENT=1 GO111MODULE=off CGO_ENABLED=0 go build -o cf-cli/cf \
  -ldflags "-X github.com/cloudfoundry/cli/cf.Version=$version -X github.com/cloudfoundry/cli/cf.BuiltOnDate=$built_on" \
  github.com/cloudfoundry/cli/main

# main/main.go prints os.Args[0] + " version " + Version + "-" + BuiltOnDate
PATH="$root/cf-cli:$PATH" cf --version | tee cf-cli/version
grep -qx "cf version $version-$built_on" cf-cli/version
