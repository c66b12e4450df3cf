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


@pytest.fixture
def sim_config(sim) -> dict:
    return dict(sim.config)


def test_suite_config_points_the_suite_at_generated_manifests(tmp_path: Path, sim_config: dict) -> None:
    (tmp_path / "m" / "v0").mkdir(parents=True)
    (tmp_path / "m" / "v_prime").mkdir()
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(sim_config))
    out = tmp_path / "run.yml"
    assert suite_config.main(["--config", str(config), "--manifests", str(tmp_path / "m"), "--out", str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert written["upgrade"]["manifests"]["v_prime"] == str((tmp_path / "m" / "v_prime").resolve())
    assert written["bosh"] == sim_config["bosh"]
    assert out.stat().st_mode & 0o077 == 0


def test_suite_config_refuses_missing_manifests(tmp_path: Path, sim_config: dict,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(sim_config))
    assert suite_config.main(["--config", str(config), "--manifests", str(tmp_path / "none")]) == 1
    assert "generated manifests are missing" in capsys.readouterr().err


ENV = {"CF_API": "https://api.example.test", "CF_APPS_DOMAIN": "apps.example.test", "CF_ADMIN_USER": "admin",
       "CF_ADMIN_PASSWORD": "cf-secret-pw", "BOSH_DIRECTOR_URL": "https://d.example.test:25555",
       "BOSH_DIRECTOR_USERNAME": "ci", "BOSH_DIRECTOR_PASSWORD": "bosh-secret-pw",
       "BOSH_DIRECTOR_SKIP_SSL_VALIDATION": "true", "PROMOTION_STORE": "s3://bucket/redis",
       "PROMOTION_S3_REGION": "eu-west-1", "PROMOTION_S3_ENDPOINT": "https://s3.eu-west-1.amazonaws.com"}


def test_suite_config_from_env_maps_every_param(tmp_path: Path) -> None:
    out = tmp_path / "c.yml"
    assert suite_config.main(["--from-env", "--out", str(out)], env=ENV) == 0
    written = yaml.safe_load(out.read_text())
    assert written["cf"] == {"api": "https://api.example.test", "apps_domain": "apps.example.test",
                             "admin_user": "admin", "admin_password": "cf-secret-pw"}
    assert written["bosh"] == {"url": "https://d.example.test:25555", "username": "ci",
                               "password": "bosh-secret-pw", "skip_ssl_validation": True}
    assert written["promotion"] == {"store": "s3://bucket/redis", "s3": {
        "region": "eu-west-1", "endpoint_url": "https://s3.eu-west-1.amazonaws.com"}}


def test_suite_config_from_env_carries_the_tls_options(tmp_path: Path) -> None:
    """A 2015 BOSH-Lite director's SHA-1 certificate needs `bosh.tls_allow_sha1` with its CA;
    a CF certificate without SAN needs `cf.tls_hostname_from_cn` (docs/configuration.md)."""
    env = {k: v for k, v in ENV.items() if k != "BOSH_DIRECTOR_SKIP_SSL_VALIDATION"}
    from tests.tls_lookalikes import haproxy_v231  # any CA certificate will do as the director's CA

    env.update({"BOSH_DIRECTOR_CA_CERT": haproxy_v231().cert_pem, "BOSH_DIRECTOR_TLS_ALLOW_SHA1": "true",
                "CF_TLS_HOSTNAME_FROM_CN": "true"})
    out = tmp_path / "c.yml"
    assert suite_config.main(["--from-env", "--out", str(out)], env=env) == 0
    written = yaml.safe_load(out.read_text())
    assert written["bosh"]["tls_allow_sha1"] is True and written["cf"]["tls_hostname_from_cn"] is True


def test_the_redis_build_params_make_a_config_the_tools_accept(tmp_path: Path) -> None:
    """The build task's params (dev director + store) give a valid config: the config the
    old task wrote (store only) is refused with the loader's own message."""
    from helpers.config import load_config

    build_env = {k: v for k, v in ENV.items() if k.startswith(("BOSH_", "PROMOTION_"))}
    out = tmp_path / "c.yml"
    assert suite_config.main(["--from-env", "--out", str(out)], env=build_env) == 0
    assert load_config(out).promotion.s3.region == "eu-west-1"
    assert suite_config.main(["--from-env", "--out", str(tmp_path / "x.yml")],
                             env={"PROMOTION_STORE": "s3://bucket/redis"}) == 1


def test_suite_config_overlay_and_set_carry_keys_it_does_not_know(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.yml"
    env = {**ENV, "SUITE_CONFIG_OVERLAY": "timeout_scale: 2\nupgrade: {cell_stop: delete}"}
    assert suite_config.main(["--from-env", "--set", "poller.interval=0.5", "--out", str(out)], env=env) == 0
    written = yaml.safe_load(out.read_text())
    assert written["timeout_scale"] == 2 and written["upgrade"]["cell_stop"] == "delete"
    assert written["poller"]["interval"] == 0.5
    # an unknown key is caught here, by the suite's own loader, not hours later in the suite
    assert suite_config.main(["--from-env", "--set", "bosh.tls_typo=true", "--out", str(out)], env=ENV) == 1
    err = capsys.readouterr().err
    assert "tls_typo" in err and "bosh-secret-pw" not in err


def test_suite_config_lists_every_problem_and_prints_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"CF_API": "https://api.example.test", "CF_ADMIN_PASSWORD": "cf-secret-pw",
           "BOSH_DIRECTOR_SKIP_SSL_VALIDATION": "maybe"}
    assert suite_config.main(["--from-env"], env=env) == 1
    err = capsys.readouterr().err
    assert "BOSH_DIRECTOR_SKIP_SSL_VALIDATION: expected true or false" in err
    assert suite_config.main(["--from-env"], env={k: v for k, v in env.items() if "SKIP" not in k}) == 1
    err = capsys.readouterr().err
    assert "cf.admin_user" in err and "cf-secret-pw" not in err
