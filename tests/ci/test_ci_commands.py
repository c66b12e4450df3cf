"""The small commands the CI task scripts call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ci import release_versions, suite_config
from helpers.releases import build_release_tarball, build_stemcell_tarball


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_release_versions_pin_to_the_tarballs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    diego = _write(tmp_path / "release.tgz", build_release_tarball("diego", "0.1454.0", ["bbs"]))
    etcd = _write(tmp_path / "etcd.tgz", build_release_tarball("etcd", "36", ["etcd"]))
    cell = _write(tmp_path / "stemcell.tgz", build_stemcell_tarball("bosh-warden-boshlite-ubuntu-trusty-go_agent",
                                                                   "2776"))
    assert release_versions.main(["--stemcell", str(cell), str(diego), str(etcd)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == {
        "diego": "0.1454.0", "etcd": "36",
        "stemcell": {"name": "bosh-warden-boshlite-ubuntu-trusty-go_agent", "version": "2776"}}


def test_release_versions_report_every_unreadable_tarball(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path / "bad.tgz", b"not a tarball")
    empty = _write(tmp_path / "empty.tgz", build_stemcell_tarball("s", "1"))  # no release.MF
    assert release_versions.main([str(bad), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "bad.tgz: not a readable tarball" in err and "empty.tgz: no release.MF inside" in err


def test_suite_config_points_the_suite_at_generated_manifests(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m" / "v0").mkdir(parents=True)
    (tmp_path / "m" / "v_prime").mkdir()
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"bosh": {"url": "https://192.168.50.4:25555"}}))
    assert suite_config.main(["--config", str(config), "--manifests", str(tmp_path / "m")]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["upgrade"]["manifests"]["v_prime"] == str((tmp_path / "m" / "v_prime").resolve())
    assert out["bosh"]["url"] == "https://192.168.50.4:25555"


def test_suite_config_refuses_missing_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text("{}")
    assert suite_config.main(["--config", str(config), "--manifests", str(tmp_path / "none")]) == 1
    assert "generated manifests are missing" in capsys.readouterr().err


def test_suite_config_from_env_and_cats_format(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"CF_API": "https://api.example.test", "CF_APPS_DOMAIN": "apps.example.test",
           "CF_ADMIN_USER": "admin", "CF_ADMIN_PASSWORD": "pw", "BOSH_DIRECTOR_URL": "https://d:25555",
           "BOSH_DIRECTOR_PASSWORD": "bpw", "PROMOTION_STORE": "s3://bucket/redis"}
    assert suite_config.main(["--from-env"], env=env) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["cf"]["api"] == "https://api.example.test"
    assert out["bosh"] == {"url": "https://d:25555", "username": "admin", "password": "bpw"}
    assert out["promotion"] == {"store": "s3://bucket/redis"}
    assert suite_config.main(["--from-env", "--format", "cats"], env=env) == 0
    assert '"api": "api.example.test"' in capsys.readouterr().out


def test_suite_config_from_env_lists_missing_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert suite_config.main(["--from-env"], env={"CF_API": "https://api.example.test"}) == 1
    err = capsys.readouterr().err
    assert "CF_APPS_DOMAIN" in err and "CF_ADMIN_PASSWORD" in err
