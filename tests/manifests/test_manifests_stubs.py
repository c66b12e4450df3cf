"""Caller stubs override anything: domains, networks, static IPs, properties, instance
counts, helper values; piece stubs touch only their piece."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from manifest_facts import UUID, job, running

from manifests.generate import build_all


def _stub(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("stubs")
    first = _stub(tmp, "first.yml", {
        "target": {"system_domain": "first.example"},
        "properties": {"cc": {"new_cc_flag": "from-first"}},
    })
    second = _stub(tmp, "second.yml", {
        "target": {"system_domain": "example.test"},
        "jobs": [
            {"name": "cell_z1", "instances": 2},
            {"name": "router_z1", "instances": 2, "networks": [{"name": "cf1", "static_ips": ["10.244.0.18", "10.244.0.22"]}]},
        ],
        "properties": {"uaa": {"scim": {"userids_enabled": False}}, "my_extra": {"nested": 1}},
        "secrets": {"admin_password": "stub-admin-pw"},
    })
    nets = _stub(tmp, "cell2-nets.yml", {
        "networks": [
            {"name": f"diego{i}", "type": "manual", "subnets": [{
                "range": f"10.250.{i}.0/24", "gateway": f"10.250.{i}.1", "reserved": [f"10.250.{i}.1"],
                "static": [f"10.250.{i}.2 - 10.250.{i}.20"], "cloud_properties": {}}]}
            for i in (1, 2, 3)],
    })
    return build_all("v0", director_uuid=UUID, stubs=[first, second], piece_stubs={"cell2": [nets]})


def test_domain_override_reaches_cf_and_diego(overridden):
    cf = overridden["cf"]["properties"]
    assert cf["system_domain"] == "example.test" and cf["app_domains"] == ["example.test"]
    assert cf["cc"]["srv_api_uri"] == "https://api.example.test"
    assert cf["uaa"]["url"] == "https://uaa.example.test"
    for piece in ("database", "cell1"):
        props = overridden[piece]["properties"]
        assert props["system_domain"] == "example.test"
        assert props["diego"]["ssh_proxy"]["uaa_token_url"] == "https://uaa.example.test/oauth/token"


def test_instance_counts_and_static_ips(overridden):
    assert running(overridden["cell1"]) == {"cell_z1": 2}
    router = job(overridden["cf"], "router_z1")
    assert router["instances"] == 2
    assert router["networks"] == [{"name": "cf1", "static_ips": ["10.244.0.18", "10.244.0.22"]}]


def test_properties_override_and_add(overridden):
    props = overridden["cf"]["properties"]
    assert props["uaa"]["scim"]["userids_enabled"] is False
    assert props["my_extra"] == {"nested": 1}
    assert props["cc"]["new_cc_flag"] == "from-first"
    assert props["cc"]["default_to_diego_backend"] is True  # siblings survive


def test_helper_secret_override(overridden):
    user = overridden["cf"]["properties"]["uaa"]["scim"]["users"][0]
    assert user.split("|")[:2] == ["admin", "stub-admin-pw"]


def test_piece_stub_networks_only_in_its_piece(overridden):
    cell2 = {n["name"]: n for n in overridden["cell2"]["networks"]}
    assert cell2["diego1"]["subnets"][0]["range"] == "10.250.1.0/24"
    assert len(cell2["diego1"]["subnets"]) == 1
    cell1 = {n["name"]: n for n in overridden["cell1"]["networks"]}
    assert cell1["diego1"]["subnets"][0]["range"] == "10.244.22.0/30"


def test_admin_credentials_option_and_prefix(tmp_path):
    manifests = build_all("v0", director_uuid=UUID, prefix="acc", cf_admin_user="ops",
                          cf_admin_password="pw-from-config")
    user, password, _ = manifests["cf"]["properties"]["uaa"]["scim"]["users"][0].split("|")
    assert (user, password) == ("ops", "pw-from-config")
    assert manifests["cf"]["name"] == "acc"
    assert manifests["cell1"]["name"] == "acc-diego-cell1"
    assert manifests["database"]["properties"]["metron_agent"]["deployment"] == "acc-diego"


def test_custom_target_file(tmp_path):
    from manifests.target import STUBS

    data = yaml.safe_load((STUBS / "bosh-lite.yml").read_text())
    data["target"]["system_domain"] = "lab.example"
    data["cf_networks"] = {"cf1": "10.10.0", "cf2": "10.10.2"}
    data["diego_networks"]["cell1"] = {"diego1": "10.10.22", "diego2": "10.10.24", "diego3": "10.10.26"}
    target = _stub(tmp_path, "lab.yml", data)
    manifests = build_all("v0", target=target, director_uuid=UUID)
    assert job(manifests["cf"], "nats_z1")["networks"] == [{"name": "cf1", "static_ips": ["10.10.0.6"]}]
    assert {n["name"] for n in manifests["cf"]["networks"]} == {"cf1", "cf2"}
    assert manifests["cf"]["properties"]["cc"]["srv_api_uri"] == "https://api.lab.example"
    cell1 = {n["name"]: n for n in manifests["cell1"]["networks"]}
    assert cell1["diego1"]["subnets"][0]["range"] == "10.10.22.0/30"
