"""The config's TLS keys (docs/configuration.md "TLS"): per endpoint, validated, carried into
the TlsSettings each client uses; and the CF trust the suite adds for what it deploys."""

from __future__ import annotations

import pytest

from helpers.config import ConfigError, parse_config
from helpers.net import pem_certificates
from manifests import secrets

BOSH = {"url": "https://192.168.50.4:25555", "username": "admin", "password": "bosh-pw-123"}
CF = {"api": "https://api.bosh-lite.com", "admin_user": "admin", "admin_password": "cf-pw-456"}


@pytest.fixture(scope="module")
def haproxy() -> dict:
    return secrets.complete({}, "bosh-lite.com")[0]


def _problems(data) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    return err.value.problems


def test_tls_options_reach_each_endpoints_settings(haproxy):
    ca = haproxy["ha_proxy_ca_cert"]
    c = parse_config({"bosh": {**BOSH, "ca_cert": ca, "tls_allow_sha1": True},
                      "cf": {**CF, "ca_cert": ca, "tls_hostname_from_cn": "true"}})
    assert (c.bosh.tls.allow_sha1, c.bosh.tls.hostname_from_cn, c.bosh.tls.section) == (True, False, "bosh")
    assert (c.cf.tls.allow_sha1, c.cf.tls.hostname_from_cn, c.cf.tls.section) == (False, True, "cf")
    plain = parse_config({"bosh": BOSH, "cf": CF})
    assert not plain.bosh.tls.allow_sha1 and not plain.cf.tls.hostname_from_cn


def test_tls_allow_sha1_needs_a_ca_and_bad_values_are_problems():
    problems = _problems({"bosh": {**BOSH, "tls_allow_sha1": True},
                          "cf": {**CF, "tls_hostname_from_cn": "sometimes", "tls_allow_sha": True}})
    assert any(p.startswith("bosh.tls_allow_sha1: needs bosh.ca_cert") for p in problems), problems
    assert "cf.tls_hostname_from_cn: expected true or false, got 'sometimes'" in problems
    assert any(p.startswith("cf.tls_allow_sha: unknown key (did you mean 'tls_allow_sha1'?)") for p in problems)


def test_tls_options_with_skip_ssl_validation_warn_that_they_are_unused():
    c = parse_config({"bosh": {**BOSH, "skip_ssl_validation": True, "tls_allow_sha1": True}})
    assert "bosh: skip_ssl_validation is true, so the tls_* options are not used" in c.warnings


def test_with_cf_trust_adds_certificates_never_keys_and_only_once(haproxy):
    c = parse_config({"cf": CF})
    pem = haproxy["ha_proxy_ssl_pem"]
    assert "PRIVATE KEY" in pem
    trusted = c.with_cf_trust(pem_certificates(pem))
    assert trusted.cf.ca_cert == pem_certificates(pem)[0] and "PRIVATE KEY" not in trusted.cf.ca_cert
    assert trusted.with_cf_trust(pem_certificates(pem)) is trusted
    both = parse_config({"cf": {**CF, "ca_cert": haproxy["ha_proxy_ca_cert"]}}).with_cf_trust(pem_certificates(pem))
    assert pem_certificates(both.cf.ca_cert or "") == [haproxy["ha_proxy_ca_cert"], pem_certificates(pem)[0]]
    assert c.cf.ca_cert is None  # frozen: the original is untouched


def test_an_environments_own_director_has_its_own_tls_keys_named_by_their_path(haproxy):
    ca = haproxy["ha_proxy_ca_cert"]
    c = parse_config({"promotion": {"environments": {"production": {"bosh": {
        **BOSH, "ca_cert": ca, "tls_allow_sha1": True}}}}, "cf": CF})
    tls = c.promotion.environments["production"].bosh.tls
    assert tls.allow_sha1 and tls.section == "promotion.environments.production.bosh"
    assert tls.endpoint == "BOSH director"
    problems = _problems({"cf": CF, "promotion": {"environments": {"staging": {"bosh": {
        **BOSH, "tls_allow_sha1": True}}}}})
    assert any(p.startswith("promotion.environments.staging.bosh.tls_allow_sha1: needs "
                            "promotion.environments.staging.bosh.ca_cert") for p in problems), problems
