"""Which cf CLI can run the era's CATs and DATs against the era's Cloud Foundry: the facts that
`ci.lint` checks a pipeline's pinned cf CLI against, each with its source (docs/ci.md, "The cf
CLI", tells the story).

Two bounds, because a wrong CLI fails either way, and only hours into a CATs run:

* **Upper** (`CLI_NEEDS`): from v6.39.0 on, the CLI declares Cloud Controller APIs below a
  minimum unsupported, and from v6.50.0 on it cannot work with the CCs of 2015-16 at all
  (`cf logs` reads log-cache; from v6.52.0 `cf api` needs the CC's `GET /`, which a CC
  before API 2.64.0 answers with a 404). The CF releases this project deploys are those of
  `manifests/versions/*.yml`; their CC API versions are `CC_API_BY_CF_RELEASE`. A CLI must
  serve the oldest of them: CATs and DATs run against V0 as well as V-prime.
* **Lower** (`SUITE_MIN_CLI`): the minimum each suite declares at the commit the release
  pins. DATs of diego-release v0.1434.0 are not in the table: they drive the Diego-SSH CLI
  plugin, which a CLI with a native `ssh` command (v6.13.0 and later) refuses to install;
  `ci/scripts/run-dats.sh` says so when it meets them.

A CLI version before v6.39.0 declares no minimum; no fact is known that it fails the era's
CCs, so nothing is claimed about it beyond the lower bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

Version = tuple[int, ...]


def parse_version(text: str) -> Version | None:
    """`v6.53.0`, `6.15`, `6.43.1-1` -> (6, 53, 0) ...; None if it does not start like a version."""
    match = re.match(r"v?(\d+(?:\.\d+)*)", str(text).strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _at_least(version: Version, minimum: Version) -> bool:
    width = max(len(version), len(minimum))
    return version + (0,) * (width - len(version)) >= minimum + (0,) * (width - len(minimum))


@dataclass(frozen=True)
class CliNeed:
    """From CLI `since` on, the CLI needs a CC API of at least `min_cc_api`, because `why`."""

    since: str
    min_cc_api: str
    why: str


CLI_NEEDS: tuple[CliNeed, ...] = (
    CliNeed("6.39.0", "2.69.0", "declares CC API below 2.69.0 unsupported "
            "(cloudfoundry/cli@v6.39.0:api/cloudcontroller/ccversion/minimum_version.go MinV2ClientVersion)"),
    CliNeed("6.43.0", "2.100.0", "declares CC API below 2.100.0 unsupported "
            "(cloudfoundry/cli@v6.43.0:api/cloudcontroller/ccversion/minimum_version.go "
            "MinSupportedV2ClientVersion)"),
    CliNeed("6.50.0", "2.128.0", "declares CC API below 2.128.0 unsupported (same file at v6.50.0), and "
            "`cf logs` reads log-cache only (cloudfoundry/cli@v6.50.0:command/v6/logs_command.go), which no "
            "CF of 2015-16 has (docs/era-facts.md section 4)"),
    CliNeed("6.52.0", "2.64.0", "cannot even `cf api`: TargetCF requests the CC root `GET /` "
            "(cloudfoundry/cli@v6.52.0:api/cloudcontroller/ccv2/target.go) and fails on the CC's own 404; "
            "the CC serves `/` from cloud_controller_ng@b6bb1b702f (2016-09-19, after the bump to API 2.63.0 on "
            "2016-09-12): no CC below API 2.63.0 has it, every CC from 2.64.0 on does"),
)

# CC API version of each cf-release (docs/era-facts.md section 3: cloud_controller_ng at the
# submodule commit the tag pins, lib/cloud_controller/constants.rb)
CC_API_BY_CF_RELEASE = {"220": "2.39.0", "231": "2.51.0"}

# the minimum cf CLI each suite declares, by the release whose checkout holds it
SUITE_MIN_CLI: dict[str, dict[str, tuple[str, str]]] = {
    "cats": {
        "220": ("6.11.3", "cloudfoundry/cf-acceptance-tests@72496c6f:cli_compatibility_test.go minCliVersion"),
        "231": ("6.15.0", "cloudfoundry/cf-acceptance-tests@7464d024:cli_compatibility_test.go minCliVersion "
                          "\"6.15\""),
    },
    "dats": {
        "0.1454.0": ("6.13.0", "cloudfoundry-incubator/diego-acceptance-tests@8aab9e8b:README.md "
                               "(\"the cf CLI at version 6.13.0 or later\")"),
    },
}
SUITE_RELEASE = {"cats": "cf", "dats": "diego"}
SUITE_NAMES = {"cats": "CATs", "dats": "DATs"}


def era_releases(repo: Path) -> dict[str, set[str]]:
    """Release name -> the versions that `manifests/versions/*.yml` deploy (V0 and V-prime)."""
    found: dict[str, set[str]] = {}
    for path in sorted((repo / "manifests" / "versions").glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        for name, version in data.items():
            if isinstance(version, str | int | float):
                found.setdefault(str(name), set()).add(str(version))
    return found


def cli_problems(cli: str, suites: set[str], era: dict[str, set[str]]) -> list[str]:
    """Why cf CLI `cli` (a tag such as v6.15.0) cannot run `suites` against the era's CF; [] if
    no known fact stands against it."""
    version = parse_version(cli)
    if version is None:
        return [f"cf CLI {cli!r} is not a version"]
    problems: list[str] = []
    if not era.get("cf"):
        problems.append("manifests/versions/*.yml name no cf-release: which CC the CLI must serve is unknown")
    apis = {}
    for cf in sorted(era.get("cf", set())):
        if cf in CC_API_BY_CF_RELEASE:
            apis[cf] = CC_API_BY_CF_RELEASE[cf]
        else:
            problems.append(f"the CC API version of cf v{cf} (manifests/versions) is not known: add it to "
                            "ci/cf_cli_era.py CC_API_BY_CF_RELEASE with its source")
    if apis:
        oldest_cf = min(apis, key=lambda cf: parse_version(apis[cf]) or ())
        oldest_api = parse_version(apis[oldest_cf]) or ()
        broken = [need for need in CLI_NEEDS if _at_least(version, parse_version(need.since) or ())
                  and not _at_least(oldest_api, parse_version(need.min_cc_api) or ())]
        if broken:
            reasons = "; ".join(f"from v{need.since} on the CLI {need.why}" for need in broken)
            problems.append(f"cf CLI {cli} is newer than the era's CF supports: cf v{oldest_cf} has CC API "
                            f"{apis[oldest_cf]}, but {reasons}")
    for suite in sorted(suites):
        for release_version in sorted(era.get(SUITE_RELEASE[suite], set())):
            minimum = SUITE_MIN_CLI[suite].get(release_version)
            if minimum and not _at_least(version, parse_version(minimum[0]) or ()):
                problems.append(f"cf CLI {cli} is older than {SUITE_NAMES[suite]} at "
                                f"{SUITE_RELEASE[suite]} v{release_version} require: {minimum[0]} ({minimum[1]})")
    return problems
