"""The release manifest-generation pipelines of shared/conformance/releases/README.md
run to completion through our engine, and the results have the V0 facts of
shared/docs/v0-deployments.md.

Each merge's output is written out and read back, as the upstream scripts do
between their spiff runs (so typing goes through our YAML rules each time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from manifests.spiff import dump_yaml, load_yaml_file, load_yaml_text, merge

DIRECTOR = "director_uuid: 11111111-2222-3333-4444-555555555555\n"


def _merge(paths: list[Path | tuple[str, Any]]) -> Any:
    docs = []
    for i, p in enumerate(paths):
        if isinstance(p, tuple):
            docs.append(p)
        else:
            docs.append((str(p), load_yaml_file(p, role="template" if i == 0 else "stub")))
    result = merge(docs)
    return load_yaml_text(dump_yaml(result), "round-trip")  # as if written and read back


def _director() -> tuple[str, Any]:
    return ("director.yml", load_yaml_text(DIRECTOR, "director.yml", role="stub"))


def _jobs(manifest: dict) -> dict[str, dict]:
    return {j["name"]: j for j in manifest["jobs"]}


def _templates(job: dict) -> list[str]:
    return [f"{t['name']}:{t['release']}" for t in job["templates"]]


def _static_ips(job: dict, network: str) -> list[str] | None:
    for n in job["networks"]:
        if n["name"] == network:
            return n.get("static_ips")
    raise AssertionError(f"{job['name']} has no network {network}")


@pytest.fixture(scope="module")
def releases(shared_dir: Path) -> Path:
    return shared_dir / "conformance" / "releases"


@pytest.fixture(scope="module")
def v0(releases: Path) -> dict[str, Any]:
    """cf-release v220 + diego-release v0.1434.0, diego's generate-bosh-lite-manifests."""
    cf = releases / "cf-release-v220" / "templates"
    dr = releases / "diego-release-v0.1434.0"
    dg = dr / "manifest-generation"
    bl = dg / "bosh-lite-stubs"
    cf_yml = _merge([cf / "cf-deployment.yml", cf / "cf-resource-pools.yml", cf / "cf-jobs.yml",
                     cf / "cf-lamb.yml", cf / "cf-properties.yml", cf / "cf-infrastructure-warden.yml",
                     _director(), dr / "stubs-for-cf-release" / "enable_consul_with_cf.yml",
                     dr / "stubs-for-cf-release" / "enable_diego_ssh_in_cf.yml"])
    config = _merge([dg / "config-from-cf.yml", dg / "config-from-cf-internal.yml", ("cf.yml", cf_yml)])
    intermediate = _merge([dg / "diego.yml", bl / "property-overrides.yml", bl / "instance-count-overrides.yml",
                           bl / "persistent-disk-overrides.yml", bl / "iaas-settings.yml",
                           bl / "additional-jobs.yml", ("config-from-cf.yml", config)])
    diego = _merge([dg / "misc-templates" / "bosh.yml", _director(), ("intermediate.yml", intermediate)])
    return {"cf": cf_yml, "config": config, "intermediate": intermediate, "diego": diego}


@pytest.fixture(scope="module")
def v_prime(releases: Path) -> dict[str, Any]:
    """cf-release v231 (10-file BOSH-Lite dev merge) + diego-release v0.1454.0 (flag-style chain)."""
    cr = releases / "cf-release-v231"
    cf = cr / "templates"
    dg = releases / "diego-release-v0.1454.0" / "manifest-generation"
    bl = dg / "bosh-lite-stubs"
    cf_yml = _merge([cf / "cf-deployment.yml", cf / "cf-resource-pools.yml", cf / "cf-jobs.yml",
                     cf / "cf-properties.yml", cf / "cf-infrastructure-warden.yml",
                     cr / "bosh-lite" / "stubs" / "dev-security-groups.yml",
                     cr / "bosh-lite" / "stubs" / "property_overrides.yml", _director(),
                     cf / "cf-minimal-dev.yml", cr / "bosh-lite" / "stubs" / "enable-diego-ssh.yml"])
    config = _merge([dg / "config-from-cf.yml", dg / "config-from-cf-internal.yml", ("cf.yml", cf_yml)])
    intermediate = _merge([dg / "diego.yml", bl / "property-overrides.yml", bl / "instance-count-overrides.yml",
                           bl / "iaas-settings.yml", bl / "release-versions.yml", ("config-from-cf.yml", config)])
    diego = _merge([dg / "misc-templates" / "bosh.yml", ("intermediate.yml", intermediate)])
    return {"cf": cf_yml, "config": config, "intermediate": intermediate, "diego": diego}


CF_STATIC = {"consul_z1": "10.244.0.54", "ha_proxy_z1": "10.244.0.34", "nats_z1": "10.244.0.6",
             "etcd_z1": "10.244.0.42", "postgres_z1": "10.244.0.30", "router_z1": "10.244.0.22"}
DIEGO_GROUPS = ["access", "brain", "cc_bridge", "cell", "database", "route_emitter", "colocated"]


@pytest.mark.parametrize("era", ["v0", "v_prime"])
def test_cf_manifest_facts(era: str, request) -> None:
    cf = request.getfixturevalue(era)["cf"]
    assert cf["name"] == "cf-warden"
    assert cf["director_uuid"] == "11111111-2222-3333-4444-555555555555"
    jobs = _jobs(cf)
    for job, ip in CF_STATIC.items():
        assert _static_ips(jobs[job], "cf1") == [ip], job
    assert _templates(jobs["consul_z1"]) == ["consul_agent:cf", "metron_agent:cf"]
    assert jobs["consul_z1"]["persistent_disk"] == 1024
    assert jobs["etcd_z1"]["persistent_disk"] == 10024
    assert _templates(jobs["nats_z1"]) == ["nats:cf", "nats_stream_forwarder:cf", "metron_agent:cf"]
    assert "meta" in cf and "properties" in cf


def test_v0_cf_templates(v0: dict[str, Any]) -> None:
    jobs = _jobs(v0["cf"])
    assert _templates(jobs["ha_proxy_z1"]) == ["haproxy:cf", "metron_agent:cf", "consul_agent:cf"]
    assert _templates(jobs["postgres_z1"]) == ["postgres:cf", "metron_agent:cf"]
    assert jobs["api_z1"]["persistent_disk"] == 8192
    assert jobs["api_z1"]["resource_pool"] == "large_z1"


@pytest.mark.parametrize("era", ["v0", "v_prime"])
def test_diego_manifest_facts(era: str, request) -> None:
    results = request.getfixturevalue(era)
    diego = results["diego"]
    assert diego["name"] == "cf-warden-diego"
    assert diego["director_uuid"] == "11111111-2222-3333-4444-555555555555"
    jobs = _jobs(diego)
    assert sorted(jobs) == sorted(f"{g}_z{z}" for g in DIEGO_GROUPS for z in (1, 2, 3))
    for name in ("database_z1", "brain_z1", "cc_bridge_z1", "route_emitter_z1", "access_z1", "cell_z1"):
        assert jobs[name]["instances"] == 1, name
    assert _templates(jobs["brain_z1"]) == ["consul_agent:cf", "auctioneer:diego", "converger:diego",
                                             "metron_agent:cf"]
    assert _templates(jobs["cell_z1"]) == ["rep:diego", "consul_agent:cf", "garden:garden-linux",
                                           "rootfses:diego", "metron_agent:cf"]
    # helper keys are gone after the final bosh.yml merge
    assert not {"config_from_cf", "iaas_settings", "property_overrides", "base_job_templates"} & set(diego)
    assert {"config_from_cf", "iaas_settings"} <= set(results["intermediate"])
    # values taken from the CF manifest
    props = diego["properties"]
    assert props["diego"]["route_emitter"]["nats"]["machines"] == ["10.244.0.6"]
    assert results["config"]["config_from_cf"]["cf_deployment_name"] == "cf-warden"


def test_v0_diego_specifics(v0: dict[str, Any]) -> None:
    jobs = _jobs(v0["diego"])
    # static_ips(1, ..., 10) with one instance: the second static IP of diego1
    assert _static_ips(jobs["access_z1"], "diego1") == ["10.244.16.6"]
    assert _templates(jobs["database_z1"]) == ["etcd:diego", "bbs:diego", "consul_agent:cf", "metron_agent:cf"]
    assert jobs["database_z1"]["persistent_disk"] == 1024
    assert _templates(jobs["access_z1"]) == ["ssh_proxy:diego", "consul_agent:cf", "metron_agent:cf",
                                             "file_server:diego"]
    assert {r["name"] for r in v0["diego"]["releases"]} == {"diego", "cf", "garden-linux"}
    assert v0["diego"]["compilation"]["workers"] == 6
    assert v0["diego"]["compilation"]["network"] == "diego1"


def test_v_prime_diego_uses_etcd_release(v_prime: dict[str, Any]) -> None:
    jobs = _jobs(v_prime["diego"])
    assert _templates(jobs["database_z1"])[0] == "etcd:etcd"
    assert "etcd" in {r["name"] for r in v_prime["diego"]["releases"]}
    assert "disk_pools" in v_prime["diego"]
