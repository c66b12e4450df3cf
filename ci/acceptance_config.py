"""The integration config JSON that CATs and DATs of the 2015-16 era read, made from the suite's
config, so the acceptance suites and ours test the same deployment with the same credentials.

Field names are the JSON tags those suites read at the pinned versions, no more (an unknown
key is ignored by Go's JSON decoder, so a wrong name would fail silently):

* cf-test-helpers@d0cc992c (pinned by diego-release v0.1434.0 and v0.1454.0):
  helpers/config.go `Config`: `api`, `apps_domain`, `admin_user`, `admin_password`,
  `skip_ssl_validation`, `secure_address`, `timeout_scale`, `artifacts_directory`, ...
  `LoadConfig` panics without `api` or `admin_user`.
* DATs (cloudfoundry-incubator/diego-acceptance-tests@42e5ca06 for diego 0.1434.0,
  @8aab9e8b for 0.1454.0) read that config; `secure_address` must be an endpoint no
  container may reach (their README uses CF's etcd, 10.244.0.42:4001); @8aab9e8b also reads
  `cf_push_timeout` and `long_curl_timeout` as seconds (diego/diego_suite_test.go:93-99).
* CATs (cloudfoundry/cf-acceptance-tests@72496c6f for cf v220, @7464d024 for cf v231; vendored
  cf-test-helpers in Godeps/_workspace) add `system_domain`, `use_http`, `client_secret`,
  and choose the backend with `use_diego: true` at v220 but `backend: "diego"` at v231
  (helpers/services/broker.go:106 @72496c6f; helpers/app_helpers/app_helpers.go:26 @7464d024).
  `api` is a host name without scheme in their READMEs (`api.bosh-lite.com`).

Durations are seconds where the suites multiply them by `time.Second`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import yaml

CATS_BACKEND_FIELD = {"220": "use_diego", "231": "backend"}
ETCD_CLIENT_PORT = 4001  # etcd's client port in cf-release v220/v231 (the DATs README's secure_address)


class AcceptanceConfigError(ValueError):
    """The suite config cannot make this integration config; the message says why."""


def _cf_fields(config: Any) -> dict[str, Any]:
    cf = config.cf
    if not cf.api:
        raise AcceptanceConfigError("the config has no cf section: CATs and DATs need cf.api and the admin user")
    api = urlsplit(cf.api)
    apps_domain = cf.apps_domain or cf.system_domain
    if not apps_domain:
        raise AcceptanceConfigError("cf.apps_domain is needed (the domain the suites push apps to)")
    fields: dict[str, Any] = {
        "api": api.netloc or cf.api,
        "apps_domain": apps_domain,
        "admin_user": cf.admin_user,
        "admin_password": cf.admin_password,
        "skip_ssl_validation": bool(cf.skip_ssl_validation),
    }
    if api.scheme == "http":
        fields["use_http"] = True
    return fields


def secure_address_from_manifest(manifest_yaml: str, deployment: str) -> str:
    """CF's etcd client endpoint, read from the CF deployment's manifest (static IPs)."""
    manifest = yaml.safe_load(manifest_yaml) or {}
    for job in manifest.get("jobs") or []:
        templates = [t.get("name") if isinstance(t, dict) else t for t in job.get("templates") or []]
        if "etcd" in templates and job.get("instances"):
            for network in job.get("networks") or []:
                for ip in network.get("static_ips") or []:
                    return f"{ip}:{ETCD_CLIENT_PORT}"
    raise AcceptanceConfigError(f"deployment {deployment}: no running etcd job with a static IP in its manifest "
                                "(give --secure-address)")


def cf_release_version(manifest_yaml: str, deployment: str) -> str:
    manifest = yaml.safe_load(manifest_yaml) or {}
    for release in manifest.get("releases") or []:
        if release.get("name") == "cf":
            return str(release.get("version"))
    raise AcceptanceConfigError(f"deployment {deployment} deploys no `cf` release")


def cf_deployment_name(config: Any) -> str:
    from manifests.generate import deployment_names

    return deployment_names(config.upgrade.deployment_prefix)["cf"]


def dats_config(config: Any, *, secure_address: str | None = None,
                manifest_of: Callable[[str], str] | None = None, timeout_scale: float | None = None,
                artifacts_directory: str | None = None) -> dict[str, Any]:
    """DATs' integration config. `secure_address` defaults to CF's etcd, read from the CF
    deployment's manifest through `manifest_of(deployment)` (the director)."""
    fields = _cf_fields(config)
    fields.pop("use_http", None)  # not a cf-test-helpers@d0cc992c field
    if secure_address is None:
        if manifest_of is None:
            raise AcceptanceConfigError("secure_address: give --secure-address or a config with a director")
        name = cf_deployment_name(config)
        secure_address = secure_address_from_manifest(manifest_of(name), name)
    fields["secure_address"] = secure_address
    if timeout_scale is not None:
        fields["timeout_scale"] = timeout_scale
    if artifacts_directory:
        fields["artifacts_directory"] = artifacts_directory
    return fields


def cats_config(config: Any, *, cf_version: str | None = None, manifest_of: Callable[[str], str] | None = None,
                timeout_scale: float | None = None, artifacts_directory: str | None = None) -> dict[str, Any]:
    """CATs' integration config for the CATs of the deployed CF (v220 or v231)."""
    if cf_version is None:
        if manifest_of is None:
            raise AcceptanceConfigError("the CF version: give --cf-version or a config with a director")
        name = cf_deployment_name(config)
        cf_version = cf_release_version(manifest_of(name), name)
    if cf_version not in CATS_BACKEND_FIELD:
        raise AcceptanceConfigError(f"no CATs field list for cf v{cf_version}: known are "
                                    + ", ".join(f"v{v}" for v in CATS_BACKEND_FIELD))
    fields = _cf_fields(config)
    if config.cf.system_domain:
        fields["system_domain"] = config.cf.system_domain
    if CATS_BACKEND_FIELD[cf_version] == "use_diego":
        fields["use_diego"] = True
    else:
        fields["backend"] = "diego"
    if timeout_scale is not None:
        fields["timeout_scale"] = timeout_scale
    if artifacts_directory:
        fields["artifacts_directory"] = artifacts_directory
    return fields


def dumps(fields: dict[str, Any]) -> str:
    return json.dumps(fields, indent=2, sort_keys=True) + "\n"
