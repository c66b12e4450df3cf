"""What the deployed Cloud Controller *is*: the facts that differ between cf v220 and v231.

The simulator's CC must never be newer than the CC that is deployed, and the CF step of the
upgrade changes it under running apps: `/v2/info` reports another API version, apps grow a
`ports` field, `/v3/processes/:guid/stats` appears. Every such difference lives in this one
table (sources in docs/architecture.md, "Era: Cloud Controller, gorouter, Loggregator"), so
that the rest of the CC reads `era.<fact>` instead of comparing version strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CcEra:
    cf_version: str
    api_version: str  # cloud_controller_ng lib/cloud_controller/constants.rb:3
    app_ports: bool  # `ports` in the app export list (app/models/runtime/app.rb:61 @b7cf099)
    v3_process_stats: bool  # GET /v3/processes/:guid/stats (config/routes.rb @b7cf099)
    # cf-release jobs/cloud_controller_ng/spec defaults of the /v2/info text properties
    # (`name`, `build`, `version`, `support_address`, `description`), as the job template
    # renders them into YAML: v231's empty-string defaults come back as null or "".
    info_defaults: tuple[tuple[str, Any], ...]
    health_check_types: tuple[str, ...]  # App::HEALTH_CHECK_TYPES

    def info_default(self, key: str) -> Any:
        return dict(self.info_defaults).get(key)


V220 = CcEra(
    cf_version="220", api_version="2.39.0", app_ports=False, v3_process_stats=False,
    info_defaults=(("name", "vcap"), ("build", "2222"), ("version", 2), ("support", None),
                   ("description", "Cloud Foundry sponsored by Pivotal")),
    health_check_types=("port", "none"))
V231 = CcEra(
    cf_version="231", api_version="2.51.0", app_ports=True, v3_process_stats=True,
    info_defaults=(("name", None), ("build", ""), ("version", 0), ("support", None), ("description", None)),
    health_check_types=("port", "none", "process"))

ERAS = {era.cf_version: era for era in (V220, V231)}


def era_of(cf_version: str | None) -> CcEra:
    """The CC of a cf release version; the oldest era when nothing says otherwise (a CC
    that has never run yet answers nothing anyway)."""
    if cf_version is None:
        return V220
    try:
        return ERAS[str(cf_version)]
    except KeyError:
        known = ", ".join(sorted(ERAS))
        raise ValueError(f"no Cloud Controller facts for cf release {cf_version} (known: {known})")
