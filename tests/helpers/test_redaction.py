"""What redaction hides and what it leaves alone (helpers/redaction.py, issue 12 point 8)."""

from __future__ import annotations

import json

import pytest

from helpers.config import ConfigError, parse_config
from helpers.redaction import REDACTED, Redactor, worth_hiding

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAwJ7y0f7h3f1XQ2sQ0l3R4k4c2j5fPq1lM2x3n4b5v6c7x8z9\n"
       "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2\n-----END RSA PRIVATE KEY-----\n")


def test_the_issue_case_admin_admin_leaves_the_message_whole():
    """BOSH-Lite's admin/admin with a misspelt key: the message names the key as written."""
    data = {"bosh": {"url": "https://192.168.50.4:25555", "username": "admin", "password": "admin"},
            "cf": {"api": "https://api.bosh-lite.com", "admin_user": "admin", "admin_password": "admin",
                   "admin_pasword": "admin"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="my-bosh-lite.yml")
    assert str(caught.value) == ("invalid config my-bosh-lite.yml: 1 problem\n"
                                 "  - cf.admin_pasword: unknown key (did you mean 'admin_password'?)")


def test_a_real_short_password_is_hidden_as_a_token_never_inside_a_key_name():
    r = Redactor()
    r.register("pasword")  # a (bad) real password that is also part of a key name below
    text = "cf.admin_pasword: unknown key; login with pasword failed; 'pasword'; url?x=pasword&y"
    assert r.redact(text) == (f"cf.admin_pasword: unknown key; login with {REDACTED} failed; '{REDACTED}'; "
                              f"url?x={REDACTED}&y")


def test_a_short_secret_after_a_json_escape_is_still_a_token():
    r = Redactor()
    r.register("h7x9q2")
    escaped = json.dumps("first line\nh7x9q2\tthen")
    assert "h7x9q2" not in r.redact(escaped)


def test_long_secrets_are_hidden_wherever_they_appear():
    r = Redactor()
    secret = "3f9a0c5e8b7d4f21a6c3e9b0d5f7a2c4"  # what manifests/secrets.py generates
    r.register(secret)
    assert secret not in r.redact(f"nats://nats:{secret}@10.244.0.6:4222 x{secret}y")


@pytest.mark.parametrize("value,hidden", [("admin", False), ("Admin", False), ("c1oudc0w", False),
                                          ("ab", False), ("", False), (None, False), ("s3cr3t-pw", True)])
def test_well_known_defaults_and_tiny_values_are_not_secrets_worth_hiding(value, hidden):
    assert worth_hiding(value) is hidden


@pytest.mark.parametrize("form", ["raw", "json", "cut"])
def test_pem_private_keys_are_hidden_even_unregistered_escaped_or_cut(form):
    text = {"raw": f"ssl_pem: |\n{PEM}", "json": json.dumps({"key": PEM}), "cut": "result: " + PEM[:90]}[form]
    out = Redactor().redact(text)
    assert "MIIEowIBAAKCAQEA" not in out and "a1b2c3d4e5f6" not in out
    assert "-----BEGIN RSA PRIVATE KEY-----" + REDACTED in out
