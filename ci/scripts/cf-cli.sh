#!/usr/bin/env bash
# Sourced by the CATs/DATs scripts: the cf CLI that the build-cf-cli task built from the pinned
# cli commit (`cf-cli` input) first on the PATH, where the suites look for `cf`.
test -x cf-cli/cf
export PATH="$PWD/cf-cli:$PATH"
cf version
