"""The manifest sets the upgrade suite deploys: the story's names mapped onto pieces in one
place, and manifests that describe the CF the suite's config names."""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import story
from helpers.config import parse_config
from manifests.sets import PIECE, prepare


def _config(tmp_path: Path, **upgrade) -> object:
    return parse_config({
        "bosh": {"url": "https://192.168.50.4:25555", "username": "admin", "password": "director-pw"},
        "cf": {"api": "https://api.example.test", "apps_domain": "example.test", "system_domain": "example.test",
               "admin_user": "release-eng", "admin_password": "cf-admin-pw"},
        "upgrade": upgrade,
    }, source="test", base_dir=tmp_path)


def test_generated_manifests_follow_the_configs_domain_and_admin(tmp_path: Path) -> None:
    sets = prepare(_config(tmp_path), "11111111-2222-3333-4444-555555555555", tmp_path / "m")
    cf = yaml.safe_load(sets.text("CF", story.V0))
    assert cf["properties"]["system_domain"] == "example.test"
    assert any(str(u).startswith("release-eng|cf-admin-pw|") for u in cf["properties"]["uaa"]["scim"]["users"])
    prime = yaml.safe_load(sets.text("CF", story.V_PRIME))
    assert prime["properties"]["system_domain"] == "example.test"
    brain = sets.text("D2", story.V_PRIME)
    assert "example.test" in brain and "bosh-lite.com" not in brain


def test_the_story_names_every_deployment_and_the_sets_pin_the_versions(tmp_path: Path) -> None:
    sets = prepare(_config(tmp_path), "11111111-2222-3333-4444-555555555555", tmp_path / "m")
    assert set(PIECE) == set(story.DEPLOYMENTS)
    assert sets.names() == {"CF": "cf-warden", "D1": "cf-warden-diego-database",
                            "D2": "cf-warden-diego-brain-and-pals", "D3": "cf-warden-diego-cell1",
                            "D4": "cf-warden-diego-cell2"}
    assert sets.path("D3", story.V_PRIME).name == "cell1.yml"
    assert sets.releases("D3", story.V0)["diego"] == "0.1434.0"
    assert sets.releases("D3", story.V_PRIME)["diego"] == "0.1454.0"
    releases, stemcells = sets.required()
    assert {("cf", "220"), ("cf", "231"), ("etcd", "36")} <= releases and stemcells
    assert sets.digest("D3", story.V0) != sets.digest("D3", story.V_PRIME)


def test_pre_generated_manifest_directories_are_used_as_given(tmp_path: Path) -> None:
    given = tmp_path / "mine"
    sets = prepare(_config(tmp_path, manifests={"v0": str(given), "v_prime": None}),
                   "11111111-2222-3333-4444-555555555555", tmp_path / "m")
    assert sets.path("D4", story.V0) == given / "cell2.yml"
    assert sets.path("D4", story.V_PRIME).parent == tmp_path / "m" / "v_prime"
