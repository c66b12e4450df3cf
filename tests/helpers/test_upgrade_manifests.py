"""The manifests the upgrade suite deploys describe the CF its config names."""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers.config import parse_config
from helpers.upgrade import prepare_manifests


def _config(tmp_path: Path, **upgrade) -> object:
    return parse_config({
        "bosh": {"url": "https://192.168.50.4:25555", "username": "admin", "password": "director-pw"},
        "cf": {"api": "https://api.example.test", "apps_domain": "example.test", "system_domain": "example.test",
               "admin_user": "release-eng", "admin_password": "cf-admin-pw"},
        "upgrade": upgrade,
    }, source="test", base_dir=tmp_path)


def test_generated_manifests_follow_the_configs_domain_and_admin(tmp_path: Path) -> None:
    sets = prepare_manifests(_config(tmp_path), "11111111-2222-3333-4444-555555555555", tmp_path / "m")
    cf = yaml.safe_load(sets["v0"]["cf"].read_text())
    assert cf["properties"]["system_domain"] == "example.test"
    assert any(str(u).startswith("release-eng|cf-admin-pw|") for u in cf["properties"]["uaa"]["scim"]["users"])
    prime = yaml.safe_load(sets["v_prime"]["cf"].read_text())
    assert prime["properties"]["system_domain"] == "example.test"
    brain = sets["v_prime"]["brain-and-pals"].read_text()
    assert "example.test" in brain and "bosh-lite.com" not in brain


def test_pre_generated_manifest_directories_are_used_as_given(tmp_path: Path) -> None:
    given = tmp_path / "mine"
    sets = prepare_manifests(_config(tmp_path, manifests={"v0": str(given), "v_prime": None}),
                             "11111111-2222-3333-4444-555555555555", tmp_path / "m")
    assert sets["v0"]["cell2"] == given / "cell2.yml"
    assert sets["v_prime"]["cell2"].parent == tmp_path / "m" / "v_prime"
