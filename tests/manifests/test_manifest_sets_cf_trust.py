"""The suite trusts exactly the HAProxy certificate of the CF manifests it deploys: their
`ha_proxy.ssl_pem` certificates (never the key) join the CF trust, for generated manifests and
for manifests the config names alike."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from fixtures.upgrade import prepare_manifests
from helpers.config import parse_config
from helpers.net import pem_certificates
from helpers.record import RunRecord
from manifests import secrets
from manifests.sets import PIECE, prepare

CF = {"api": "https://api.bosh-lite.com", "admin_user": "admin", "admin_password": "cf-pw-456"}
BOSH = {"url": "https://192.168.50.4:25555", "username": "admin", "password": "bosh-pw-123"}


def _manifests(directory: Path, global_pem: str | None, job_pem: str | None = None) -> Path:
    directory.mkdir(parents=True)
    for piece in PIECE.values():
        doc: dict[str, Any] = {"name": f"cf-warden-{piece}", "jobs": [], "properties": {}}
        if piece == "cf":
            if global_pem is not None:
                doc["properties"]["ha_proxy"] = {"ssl_pem": global_pem}
            if job_pem is not None:
                doc["jobs"] = [{"name": "ha_proxy_z1", "properties": {"ha_proxy": {"ssl_pem": job_pem}}}]
        (directory / f"{piece}.yml").write_text(yaml.safe_dump(doc))
    return directory


def _config(v0: Path, v_prime: Path) -> Any:
    return parse_config({"bosh": BOSH, "cf": CF, "upgrade": {"manifests": {"v0": str(v0), "v_prime": str(v_prime)}}})


def test_certificates_come_from_global_and_job_properties_never_the_key(tmp_path: Path):
    a = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    b = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    sets = prepare(_config(_manifests(tmp_path / "v0", a), _manifests(tmp_path / "vp", None, b)), "u", tmp_path / "o")
    found = sets.haproxy_certificates()
    assert found == pem_certificates(a) + pem_certificates(b)
    assert not any("PRIVATE KEY" in c for c in found)
    none = _manifests(tmp_path / "none", None)
    assert prepare(_config(none, none), "u", tmp_path / "o2").haproxy_certificates() == []


def test_the_run_trusts_the_given_manifests_certificate_and_tells_the_platform(tmp_path: Path):
    pem = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    given = _manifests(tmp_path / "given", pem)
    config = _config(given, given)
    told: list[list[str]] = []
    platform = SimpleNamespace(config=config, artifacts=tmp_path / "art", trust_cf=told.append,
                               require_director=lambda what: SimpleNamespace(uuid=lambda: "director-uuid"))
    record = RunRecord(tmp_path / "run-state.json")
    sets = prepare_manifests(platform, record)
    assert told == [pem_certificates(pem)]
    assert record.data["manifests"]["V0"]["CF"] == sets.digest("CF", "V0")
    assert config.cf.ca_cert is None  # the loaded config itself is not changed
