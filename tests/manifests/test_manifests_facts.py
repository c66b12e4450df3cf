"""Generated V0 and V-prime manifests against the V0 facts (shared/docs/v0-deployments.md)
and the release catalog (shared/docs/release-catalog.yml)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from manifest_facts import job, running, templates

from manifests.generate import BOSH_KEYS, DIEGO_PIECES
from manifests.secrets import ssh_md5_fingerprint

# --- facts from v0-deployments.md §2 and §4 --------------------------------------------

NAMES = {
    "cf": "cf-warden",
    "database": "cf-warden-diego-database",
    "brain-and-pals": "cf-warden-diego-brain-and-pals",
    "cell1": "cf-warden-diego-cell1",
    "cell2": "cf-warden-diego-cell2",
}
CF_RUNNING_V0 = {
    "consul_z1", "ha_proxy_z1", "nats_z1", "etcd_z1", "postgres_z1", "uaa_z1", "api_z1", "doppler_z1",
    "loggregator_trafficcontroller_z1", "router_z1", "acceptance_tests", "smoke_tests",
}
CF_ZERO = {
    "hm9000_z1", "runner_z1", "consul_z2", "nats_z2", "etcd_z2", "stats_z1", "nfs_z1", "uaa_z2", "api_z2",
    "clock_global", "api_worker_z1", "api_worker_z2", "hm9000_z2", "runner_z2", "loggregator_z1",
    "loggregator_z2", "doppler_z2", "loggregator_trafficcontroller_z2", "router_z2",
}
CF_TEMPLATES_V0 = {
    "consul_z1": ["consul_agent:cf", "metron_agent:cf"],
    "ha_proxy_z1": ["haproxy:cf", "metron_agent:cf", "consul_agent:cf"],
    "nats_z1": ["nats:cf", "nats_stream_forwarder:cf", "metron_agent:cf"],
    "etcd_z1": ["etcd:cf", "etcd_metrics_server:cf", "metron_agent:cf"],
    "postgres_z1": ["postgres:cf", "metron_agent:cf"],
    "uaa_z1": ["uaa:cf", "metron_agent:cf", "consul_agent:cf", "route_registrar:cf", "statsd-injector:cf"],
    "api_z1": ["cloud_controller_ng:cf", "cloud_controller_clock:cf", "cloud_controller_worker:cf", "routing-api:cf",
               "metron_agent:cf", "statsd-injector:cf", "consul_agent:cf", "nfs_mounter:cf", "route_registrar:cf"],
    "doppler_z1": ["doppler:cf", "syslog_drain_binder:cf", "metron_agent:cf"],
    "loggregator_trafficcontroller_z1": ["loggregator_trafficcontroller:cf", "metron_agent:cf", "route_registrar:cf"],
    "router_z1": ["gorouter:cf", "metron_agent:cf", "consul_agent:cf"],
    "acceptance_tests": ["acceptance-tests:cf"],
    "smoke_tests": ["smoke-tests:cf"],
    "hm9000_z1": ["hm9000:cf", "metron_agent:cf", "route_registrar:cf"],
    "runner_z1": ["dea_next:cf", "dea_logging_agent:cf", "metron_agent:cf"],
}
CF_STATIC = {"nats_z1": "10.244.0.6", "router_z1": "10.244.0.22", "postgres_z1": "10.244.0.30",
             "ha_proxy_z1": "10.244.0.34", "etcd_z1": "10.244.0.42", "consul_z1": "10.244.0.54"}
CF_DISKS = {"consul_z1": 1024, "etcd_z1": 10024, "postgres_z1": 4096, "api_z1": 8192}
DIEGO_TEMPLATES_V0 = {
    "database": ["etcd:diego", "bbs:diego", "consul_agent:cf", "metron_agent:cf"],
    "brain": ["consul_agent:cf", "auctioneer:diego", "converger:diego", "metron_agent:cf"],
    "cc_bridge": ["stager:diego", "nsync:diego", "tps:diego", "cc_uploader:diego", "consul_agent:cf",
                  "metron_agent:cf"],
    "route_emitter": ["route_emitter:diego", "consul_agent:cf", "metron_agent:cf"],
    "access": ["ssh_proxy:diego", "consul_agent:cf", "metron_agent:cf", "file_server:diego"],
    "cell": ["rep:diego", "consul_agent:cf", "garden:garden-linux", "rootfses:diego", "metron_agent:cf"],
}
DIEGO_GROUPS = ("access", "brain", "cc_bridge", "cell", "database", "route_emitter", "colocated")
DIEGO_JOBS = {f"{g}_z{z}" for g in DIEGO_GROUPS for z in (1, 2, 3)}
PIECE_RUNNING = {
    "database": {"database_z1"},
    "brain-and-pals": {"brain_z1", "cc_bridge_z1", "route_emitter_z1", "access_z1"},
    "cell1": {"cell_z1"},
    "cell2": {"cell_z2"},
}
PIECE_NETS = {  # §5: each deployment's diego1/diego2/diego3 /24s
    "brain-and-pals": ("10.244.16", "10.244.18", "10.244.20"),
    "cell1": ("10.244.22", "10.244.24", "10.244.26"),
    "cell2": ("10.244.28", "10.244.30", "10.244.32"),
    "database": ("10.244.34", "10.244.36", "10.244.38"),
}
VERSIONS = {
    "v0": {"cf": "220", "diego": "0.1434.0", "garden-linux": "0.307.0"},
    "v_prime": {"cf": "231", "diego": "0.1454.0", "garden-linux": "0.333.0", "etcd": "36"},
}


@pytest.fixture(params=["v0", "v_prime"])
def both(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, Any]]]:
    return request.param, request.getfixturevalue(request.param)


def _walk(node: Any, path: str = ""):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def test_deployment_names(both):
    _, manifests = both
    assert {piece: m["name"] for piece, m in manifests.items()} == NAMES


def test_only_bosh_keys_and_nothing_unresolved(both):
    _, manifests = both
    for piece, m in manifests.items():
        assert set(m) <= set(BOSH_KEYS), piece
        assert {"name", "director_uuid", "releases", "compilation", "update", "networks", "resource_pools",
                "jobs", "properties"} <= set(m), piece
        for path, node in _walk(m):
            assert not path.endswith(".<<"), f"{piece}{path}"
            assert not (isinstance(node, str) and node.strip().startswith("((")), f"{piece}{path}: {node}"


def test_releases_pinned_and_only_those_used(both, catalog):
    name, manifests = both
    expected = VERSIONS[name]
    for piece, m in manifests.items():
        listed = {r["name"]: r["version"] for r in m["releases"]}
        used = {t["release"] for j in m["jobs"] for t in j["templates"]}
        assert set(listed) == used, piece
        for release, version in listed.items():
            assert isinstance(version, str) and version == expected[release], (piece, release, version)
        for pool in m["resource_pools"]:
            assert pool["stemcell"] == {"name": catalog["stemcell"]["name"], "version": "2776"}, (piece, pool)
    assert [r["name"] for r in manifests["cf"]["releases"]] == ["cf"]
    diego_releases = {r["name"] for r in manifests["database"]["releases"]}
    assert ("etcd" in diego_releases) == (name == "v_prime")


def test_every_job_template_is_in_the_catalog(both, catalog):
    _, manifests = both
    for piece, m in manifests.items():
        versions = {r["name"]: r["version"] for r in m["releases"]}
        for j in m["jobs"]:
            for t in j["templates"]:
                jobs = catalog["releases"][t["release"]][versions[t["release"]]]
                assert t["name"] in jobs, f"{piece}/{j['name']}: {t['name']} not in {t['release']} {versions[t['release']]}"


def test_cf_jobs_and_instances(both):
    name, manifests = both
    cf = manifests["cf"]
    expected = CF_RUNNING_V0 | ({"blobstore_z1"} if name == "v_prime" else set())
    assert set(running(cf)) == expected
    assert all(n == 1 for n in running(cf).values())
    names = {j["name"] for j in cf["jobs"]}
    assert names >= CF_ZERO
    for zero in CF_ZERO:
        assert job(cf, zero)["instances"] == 0, zero


def test_cf_templates_v0(v0):
    for name, expected in CF_TEMPLATES_V0.items():
        assert templates(v0["cf"], name) == expected, name


def test_cf_templates_v_prime(v_prime):
    api = templates(v_prime["cf"], "api_z1")
    assert "routing-api:cf" not in api and "nfs_mounter:cf" not in api
    assert {f"{b}-buildpack:cf" for b in ("go", "binary", "nodejs", "ruby", "php", "python", "staticfile")} <= set(api)
    assert templates(v_prime["cf"], "router_z1")[0] == "consul_agent:cf"
    blobstore = job(v_prime["cf"], "blobstore_z1")
    assert blobstore["persistent_disk"] == 102400 and "blobstore:cf" in templates(v_prime["cf"], "blobstore_z1")


def test_cf_static_ips_disks_and_pools(both):
    _, manifests = both
    cf = manifests["cf"]
    for name, ip in CF_STATIC.items():
        assert job(cf, name)["networks"] == [{"name": "cf1", "static_ips": [ip]}], name
    assert job(cf, "runner_z1")["networks"] == [{"name": "cf1", "static_ips": []}]
    for name, size in CF_DISKS.items():
        assert job(cf, name)["persistent_disk"] == size, name
    assert job(cf, "api_z1")["resource_pool"] == "large_z1"
    assert job(cf, "acceptance_tests")["resource_pool"] == "small_errand"
    pools = {p["name"]: p["network"] for p in cf["resource_pools"]}
    for kind in ("small", "medium", "large", "runner", "router"):
        assert pools[f"{kind}_z1"] == "cf1" and pools[f"{kind}_z2"] == "cf2"
    assert pools["small_errand"] == pools["xlarge_errand"] == "cf1"


def test_cf_networks(both):
    _, manifests = both
    nets = {n["name"]: n for n in manifests["cf"]["networks"]}
    assert set(nets) == {"cf1", "cf2", "services1", "services2"}
    cf1 = nets["cf1"]["subnets"]
    assert len(cf1) == 64
    statics = [s for sub in cf1 for s in sub["static"]]
    assert statics[0] == "10.244.0.2" and statics[-1] == "10.244.0.126" and len(statics) == 32
    assert all(sub["reserved"] == [sub["gateway"]] for sub in cf1)


def test_cf_update_blocks(both):
    _, manifests = both
    cf = manifests["cf"]
    assert cf["update"] == {"canaries": 0, "max_in_flight": 50, "serial": True,
                            "canary_watch_time": "1000-180000", "update_watch_time": "1000-180000"}
    assert job(cf, "consul_z1")["update"] == {"max_in_flight": 1, "serial": True}
    assert job(cf, "etcd_z1")["update"] == {"max_in_flight": 1}
    assert job(cf, "runner_z1")["update"] == {"max_in_flight": 1}
    for m in manifests.values():
        assert m["compilation"]["workers"] == 6 and m["compilation"]["reuse_compilation_vms"] is False


def test_diego_jobs_instances_and_templates(both):
    name, manifests = both
    for piece in DIEGO_PIECES:
        m = manifests[piece]
        assert {j["name"] for j in m["jobs"]} == DIEGO_JOBS, piece
        assert set(running(m)) == PIECE_RUNNING[piece], piece
        for group, expected in DIEGO_TEMPLATES_V0.items():
            actual = templates(m, f"{group}_z1")
            if name == "v_prime" and group == "database":
                expected = ["etcd:etcd", *expected[1:]]
            if name == "v_prime" and group == "cc_bridge":
                assert actual[0] == "consul_agent:cf"
                actual, expected = sorted(actual), sorted(expected)
            assert actual == expected, (piece, group)
        assert job(m, "database_z1")["persistent_disk"] == 1024


def test_diego_networks_and_static_ips(both):
    _, manifests = both
    for piece in DIEGO_PIECES:
        m = manifests[piece]
        nets = {n["name"]: n["subnets"] for n in m["networks"]}
        assert set(nets) == {"diego1", "diego2", "diego3"}, piece
        for net, prefix in zip(("diego1", "diego2", "diego3"), PIECE_NETS[piece], strict=True):
            subnets = nets[net]
            assert len(subnets) == 31
            assert subnets[0]["range"] == f"{prefix}.0/30" and subnets[-1]["range"] == f"{prefix}.120/30"
            assert [s for sub in subnets for s in sub["static"]][-1] == f"{prefix}.82"
            assert all(sub["static"] == [] for sub in subnets[21:])
        pools = {p["name"]: p["network"] for p in m["resource_pools"]}
        assert len(pools) == 21
        for j in m["jobs"]:
            zone = j["name"][-1]
            assert j["resource_pool"] == j["name"] and pools[j["name"]] == f"diego{zone}"
            assert j["networks"][0]["name"] == f"diego{zone}"
        access = job(m, "access_z1")["networks"][0]["static_ips"]
        expected_ssh = ["10.244.16.6"] if piece == "brain-and-pals" else []
        assert access == expected_ssh, piece
        assert m["properties"]["diego"]["ssh_proxy"]["servers"] == expected_ssh, piece
    cell2 = manifests["cell2"]
    net = ipaddress.ip_network("10.244.30.0/24")
    assert all(ipaddress.ip_network(s["range"]).subnet_of(net)
               for n in cell2["networks"] if n["name"] == "diego2" for s in n["subnets"])


def test_diego_update_blocks(both):
    _, manifests = both
    for piece in DIEGO_PIECES:
        m = manifests[piece]
        assert m["update"] == {"canaries": 1, "max_in_flight": 1, "serial": False,
                               "canary_watch_time": "5000-120000", "update_watch_time": "5000-120000"}
        for j in m["jobs"]:
            serial = j["name"].rsplit("_z", 1)[0] in ("database", "brain", "colocated")
            assert j["update"] == {"max_in_flight": 1, "serial": serial}, (piece, j["name"])


def test_cf_properties_diego_needs(both):
    _, manifests = both
    props = manifests["cf"]["properties"]
    assert props["cc"]["default_to_diego_backend"] is True
    assert props["cc"]["allow_app_ssh_access"] is True
    assert props["system_domain"] == props["domain"] == "bosh-lite.com"
    assert props["app_domains"] == ["bosh-lite.com"]
    assert props["cc"]["srv_api_uri"] == "https://api.bosh-lite.com"
    assert props["app_ssh"]["oauth_client_id"] == "ssh-proxy"
    client = props["uaa"]["clients"]["ssh-proxy"]
    assert client["authorized-grant-types"] == "authorization_code" and client["redirect-uri"] == "/login"
    assert "secret" not in props["uaa"]["clients"]["cf"]
    user, password, groups = props["uaa"]["scim"]["users"][0].split("|")
    assert user == "admin" and len(password) >= 16 and "cloud_controller.admin" in groups.split(",")
    assert props["nats"]["machines"] == ["10.244.0.6"] and props["nats"]["port"] == 4222
    assert props["consul"]["agent"]["servers"]["lan"] == ["10.244.0.54"]
    assert props["etcd"]["machines"] == ["10.244.0.42"]


def test_diego_properties_come_from_cf(both):
    _, manifests = both
    cf = manifests["cf"]["properties"]
    for piece in DIEGO_PIECES:
        props = manifests[piece]["properties"]
        ssh = props["diego"]["ssh_proxy"]
        assert ssh_md5_fingerprint(ssh["host_key"]) == cf["app_ssh"]["host_key_fingerprint"]
        assert ssh["uaa_secret"] == cf["uaa"]["clients"]["ssh-proxy"]["secret"]
        assert ssh["uaa_token_url"] == "https://uaa.bosh-lite.com/oauth/token"
        assert ssh["enable_cf_auth"] is True
        assert props["nats"]["password"] == cf["nats"]["password"]
        assert props["nats"]["machines"] == ["10.244.0.6"]
        assert props["consul"]["agent"]["servers"]["lan"] == ["10.244.0.54"]
        assert props["consul"]["encrypt_keys"] == cf["consul"]["encrypt_keys"]
        assert props["loggregator"]["etcd"]["machines"] == ["10.244.0.42"]
        assert props["diego"]["nsync"]["cc"]["basic_auth_password"] == cf["cc"]["internal_api_password"]
        assert props["diego"]["nsync"]["cc"]["base_url"] == "https://api.bosh-lite.com"
        assert props["diego"]["rep"]["evacuation_timeout_in_seconds"] == 60
        assert props["metron_agent"]["deployment"] == "cf-warden-diego"
        assert manifests[piece]["director_uuid"] == manifests["cf"]["director_uuid"]
