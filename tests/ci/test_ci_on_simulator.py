"""The CI task commands against a (simulated) BOSH director, over its real HTTP API."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci import bosh_lite, generate_manifests, upload_releases
from helpers.bosh import Director
from helpers.config import parse_config
from helpers.releases import build_release_tarball, build_stemcell_tarball


@pytest.fixture
def config(sim: Any) -> Any:
    return parse_config(sim.config, source="simulator")


def _director(config: Any) -> Director:
    return Director(config.bosh, config.resolver(), timeout=config.timeout)


def test_upload_skips_what_the_director_already_has(config: Any, tmp_path: Path) -> None:
    name = f"ci-upload-{uuid.uuid4().hex[:6]}"
    release = tmp_path / "release.tgz"
    release.write_bytes(build_release_tarball(name, "3", ["worker"]))
    stemcell = tmp_path / "stemcell.tgz"
    stemcell.write_bytes(build_stemcell_tarball(f"{name}-stemcell", "7"))
    director = _director(config)
    first = upload_releases.upload_all(director, [str(release)], str(stemcell), log=lambda m: None)
    assert first == {"uploaded": [f"{name}/3", f"{name}-stemcell/7"], "skipped": []}
    versions = {v["version"] for r in director.releases() if r["name"] == name for v in r["release_versions"]}
    assert versions == {"3"}
    again = upload_releases.upload_all(director, [str(release)], str(stemcell), log=lambda m: None)
    assert again == {"uploaded": [], "skipped": [f"{name}/3", f"{name}-stemcell/7"]}


def test_upload_cli_reports_an_unreadable_tarball(sim: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "config.yml"
    config_file.write_text(yaml.safe_dump(sim.config))
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"nope")
    assert upload_releases.main(["--config", str(config_file), str(bad)]) == 1
    assert "bad.tgz: not a readable tarball" in capsys.readouterr().err


def test_generated_manifest_sets_target_the_director(config: Any, tmp_path: Path) -> None:
    written = generate_manifests.generate_sets(config, "v_prime", tmp_path)
    director_uuid = _director(config).uuid()
    for version_set in ("v0", "v_prime"):
        cf = yaml.safe_load(written[version_set]["cf"].read_text())
        assert cf["director_uuid"] == director_uuid
    v0_cf = yaml.safe_load(written["v0"]["cf"].read_text())
    releases = {r["name"]: str(r["version"]) for r in v0_cf["releases"]}
    assert releases["cf"] == "220"
    prime_db = yaml.safe_load(written["v_prime"]["database"].read_text())
    assert {r["name"]: str(r["version"]) for r in prime_db["releases"]}["etcd"] == "36"
    assert (tmp_path / "secrets.yml").stat().st_mode & 0o077 == 0


def test_manifests_follow_the_configs_cf_domain(sim: Any, tmp_path: Path) -> None:
    data = {**sim.config, "cf": {**sim.config["cf"], "system_domain": "ci.example.test",
                                 "apps_domain": "ci.example.test", "api": "https://api.ci.example.test"}}
    written = generate_manifests.generate_sets(parse_config(data, source="test"), "v_prime", tmp_path)
    cf = yaml.safe_load(written["v0"]["cf"].read_text())
    assert cf["properties"]["system_domain"] == "ci.example.test"
    cell = yaml.safe_load(written["v_prime"]["cell1"].read_text())
    assert "ci.example.test" in yaml.safe_dump(cell)  # reached Diego through config-from-cf


def test_provision_waits_until_the_director_takes_the_new_credentials(sim: Any) -> None:
    """The simulator's director has generated credentials, so admin/admin is refused: the
    state the first boot leaves a BOSH-Lite in."""
    bosh_lite._wait_for_director(dict(sim.config), timeout=10)  # returns: ready


def test_provision_gives_up_on_a_director_that_never_answers(sim: Any) -> None:
    config = {**sim.config, "bosh": {**sim.config["bosh"], "url": "https://192.168.50.9:25555"},
              "resolve": {**sim.config["resolve"], "192.168.50.9:25555": "127.0.0.1:9"}}  # discard port
    with pytest.raises(bosh_lite.ProvisionError, match=r"not ready with the new credentials within 1s; last: "):
        bosh_lite._wait_for_director(config, timeout=1)


def test_provision_refuses_a_director_that_still_takes_other_credentials(sim: Any) -> None:
    config = {**sim.config, "bosh": {**sim.config["bosh"], "password": "not-the-password"}}
    with pytest.raises(bosh_lite.ProvisionError, match="does not accept the new credentials yet"):
        bosh_lite._wait_for_director(config, timeout=1)


def test_upload_by_file_url_and_skip_of_known_url_versions(config: Any, tmp_path: Path) -> None:
    name = f"ci-url-{uuid.uuid4().hex[:6]}"
    release = tmp_path / f"{name}.tgz"
    release.write_bytes(build_release_tarball(name, "5", ["worker"]))
    director = _director(config)
    url = release.as_uri()
    assert upload_releases.upload_all(director, [url], None, log=lambda m: None)["uploaded"] == [url]
    assert any(r["name"] == name for r in director.releases())
    # a bosh.io-style URL names its version: a known one is not uploaded again
    known = f"file://{tmp_path}/{name}?v=5"
    assert upload_releases.upload_all(director, [known], None, log=lambda m: None)["skipped"] == [known]
