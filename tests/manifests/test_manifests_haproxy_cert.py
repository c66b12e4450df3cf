"""The HAProxy certificate the generator deploys (`ha_proxy.ssl_pem`): one CA per secrets file,
a leaf for `*.<system domain>`, the same for V0 and V-prime, in the CF manifest only; a
certificate the user brings (secrets file or stub) is deployed as given."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from manifest_facts import UUID

from helpers.net import pem_certificates
from manifests import secrets
from manifests.generate import DIEGO_PIECES, build_all


def _ssl_pem(manifests: dict[str, dict[str, Any]]) -> str:
    return manifests["cf"]["properties"]["ha_proxy"]["ssl_pem"]


def _leaf(ssl_pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem_certificates(ssl_pem)[0].encode())


def _dns_names(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_v0_and_v_prime_deploy_one_certificate_for_the_system_domain(v0, v_prime, secrets_file: Path):
    stored = yaml.safe_load(secrets_file.read_text())
    assert _ssl_pem(v0) == _ssl_pem(v_prime) == stored["ha_proxy_ssl_pem"]
    leaf = _leaf(_ssl_pem(v0))
    ca = x509.load_pem_x509_certificate(stored["ha_proxy_ca_cert"].encode())
    assert _dns_names(leaf) == ["*.bosh-lite.com", "bosh-lite.com"]
    assert leaf.issuer == ca.subject != leaf.subject
    leaf.verify_directly_issued_by(ca)
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey) and leaf.public_key().key_size == 2048
    assert leaf.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    key = serialization.load_pem_private_key(_ssl_pem(v0).encode(), password=None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    assert "ssl_ciphers" not in v0["cf"]["properties"]["ha_proxy"]  # the release's default applies


def test_only_the_cf_manifest_carries_the_haproxy_key(v0):
    key_pem = _ssl_pem(v0).split("-----END CERTIFICATE-----")[1].strip()
    assert key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    for piece in DIEGO_PIECES:
        assert key_pem not in yaml.safe_dump(v0[piece])


def test_a_stub_that_moves_the_domain_gets_a_certificate_for_it(tmp_path: Path):
    path = tmp_path / "secrets.yml"
    first = build_all("v0", director_uuid=UUID, secrets_file=path)
    ca_before = yaml.safe_load(path.read_text())["ha_proxy_ca_cert"]
    stub = tmp_path / "domain.yml"
    stub.write_text("target:\n  system_domain: example.test\n")
    moved = build_all("v0", director_uuid=UUID, secrets_file=path, stubs=[stub], cf_admin_password="given-pw-1")
    assert _dns_names(_leaf(_ssl_pem(moved))) == ["*.example.test", "example.test"]
    stored = yaml.safe_load(path.read_text())
    assert stored["ha_proxy_ssl_pem"] == _ssl_pem(moved) != _ssl_pem(first)
    assert stored["ha_proxy_ca_cert"] == ca_before  # one CA per secrets file
    assert stored["admin_password"] != "given-pw-1"  # given values stay out of the file


def test_a_certificate_the_user_brings_is_deployed_as_given(tmp_path: Path):
    from tests.tls_lookalikes import haproxy_v231

    own = haproxy_v231()
    path = tmp_path / "secrets.yml"
    path.write_text(yaml.safe_dump({"ha_proxy_ssl_pem": own.ssl_pem}))
    manifests = build_all("v0", director_uuid=UUID, secrets_file=path)
    assert _ssl_pem(manifests) == own.ssl_pem
    stub = tmp_path / "stub.yml"
    stub.write_text(yaml.safe_dump({"properties": {"ha_proxy": {"ssl_pem": own.ssl_pem}}}))
    via_stub = build_all("v_prime", director_uuid=UUID, secrets_file=tmp_path / "other.yml", stubs=[stub])
    assert _ssl_pem(via_stub) == own.ssl_pem


def test_complete_reissues_only_its_own_certificates():
    values = secrets.complete({}, "bosh-lite.com")[0]
    again, changed = secrets.complete(values, "bosh-lite.com")
    assert not changed and again["ha_proxy_ssl_pem"] == values["ha_proxy_ssl_pem"]
    new_ca = secrets.complete({**values, "ha_proxy_ca_key": None}, "bosh-lite.com")[0]
    assert new_ca["ha_proxy_ca_cert"] != values["ha_proxy_ca_cert"]
    assert new_ca["ha_proxy_ssl_pem"] != values["ha_proxy_ssl_pem"]
    _leaf(new_ca["ha_proxy_ssl_pem"]).verify_directly_issued_by(
        x509.load_pem_x509_certificate(new_ca["ha_proxy_ca_cert"].encode()))
