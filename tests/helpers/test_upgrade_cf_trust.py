"""The suite trusts exactly the HAProxy certificate of the CF manifests it deploys: their
`ha_proxy.ssl_pem` certificates (never the key) join the CF trust, for generated manifests and
for manifests the config names alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from helpers.config import parse_config
from helpers.net import pem_certificates
from helpers.steps import StepRecorder
from helpers.upgrade import PIECES, UpgradeRun, haproxy_certificates
from manifests import secrets

CF = {"api": "https://api.bosh-lite.com", "admin_user": "admin", "admin_password": "cf-pw-456"}
BOSH = {"url": "https://192.168.50.4:25555", "username": "admin", "password": "bosh-pw-123"}


class Director:
    def uuid(self) -> str:
        return "director-uuid"


def _manifests(directory: Path, global_pem: str | None, job_pem: str | None = None) -> Path:
    directory.mkdir(parents=True)
    for piece in PIECES:
        doc: dict[str, Any] = {"name": f"cf-warden-{piece}", "jobs": [], "properties": {}}
        if piece == "cf":
            if global_pem is not None:
                doc["properties"]["ha_proxy"] = {"ssl_pem": global_pem}
            if job_pem is not None:
                doc["jobs"] = [{"name": "ha_proxy_z1", "properties": {"ha_proxy": {"ssl_pem": job_pem}}}]
        (directory / f"{piece}.yml").write_text(yaml.safe_dump(doc))
    return directory


def test_certificates_come_from_global_and_job_properties_never_the_key(tmp_path: Path):
    a = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    b = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    found = haproxy_certificates([_manifests(tmp_path / "m", a, b) / "cf.yml"])
    assert found == pem_certificates(a) + pem_certificates(b)
    assert not any("PRIVATE KEY" in c for c in found)
    assert haproxy_certificates([_manifests(tmp_path / "none", None) / "cf.yml"]) == []


def test_prepare_trusts_the_given_manifests_certificate_and_tells_the_platform(tmp_path: Path):
    pem = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    given = _manifests(tmp_path / "given", pem)
    config = parse_config({"bosh": BOSH, "cf": CF,
                           "upgrade": {"manifests": {"v0": str(given), "v_prime": str(given)}}})
    told: list[list[str]] = []
    run = UpgradeRun(config=config, director=Director(), cf_factory=lambda: None, manifests_dir=tmp_path / "out",
                     recorder=StepRecorder(), app_dir=tmp_path, http=lambda *a, **k: None,
                     recent_logs=lambda *a: [], ssh_exec=lambda *a, **k: None, on_cf_trust=told.append)
    run.prepare()
    assert told == [pem_certificates(pem)]
    assert run.config.cf.ca_cert == pem_certificates(pem)[0]
    assert config.cf.ca_cert is None  # the loaded config itself is not changed
