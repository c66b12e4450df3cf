#!/usr/bin/env bash
# Sourced by the CATs/DATs scripts: the cf CLI from the `cf-cli` input (a github-release
# tarball) onto the PATH. v6.53.0 is the last v6 CLI; it still talks to CC API 2.39/2.51.
mkdir -p "$PWD/cf-bin"
tar -xzf cf-cli/cf-cli_*_linux_x86-64.tgz -C "$PWD/cf-bin"
export PATH="$PWD/cf-bin:$PATH"
cf version
