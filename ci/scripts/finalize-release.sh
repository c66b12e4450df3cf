#!/usr/bin/env bash
# The promoted candidate becomes the final release artifact.
. "$(dirname "$0")/lib.sh"
cp diego-release-candidate/*.tgz final-release/
ls final-release
