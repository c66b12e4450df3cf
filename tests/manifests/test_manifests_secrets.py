"""The secrets file: created once (owner-only), reused by V0 and V-prime, completed when
keys are missing; the ssh host key fingerprint always matches the key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from manifests import secrets
from manifests.generate import DIEGO_PIECES


def test_v0_and_v_prime_share_credentials(v0, v_prime, secrets_file: Path):
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    stored = yaml.safe_load(secrets_file.read_text())
    for m in (v0, v_prime):
        cf = m["cf"]["properties"]
        assert cf["app_ssh"]["host_key_fingerprint"] == stored["ssh_proxy_host_key_fingerprint"]
        assert cf["uaa"]["clients"]["ssh-proxy"]["secret"] == stored["ssh_proxy_client_secret"]
        assert cf["nats"]["password"] == stored["nats_password"]
        assert cf["uaa"]["scim"]["users"][0].split("|")[1] == stored["admin_password"]
        for piece in DIEGO_PIECES:
            assert m[piece]["properties"]["diego"]["ssh_proxy"]["host_key"] == stored["ssh_proxy_host_key"]
            assert m[piece]["properties"]["diego"]["bbs"]["ca_cert"] == stored["ca_cert"]


def test_existing_file_is_reused_unchanged(tmp_path: Path):
    path = tmp_path / "s.yml"
    first = secrets.load_or_create(path)
    text = path.read_text()
    again = secrets.load_or_create(path)
    assert again == first and path.read_text() == text


def test_missing_keys_are_completed_and_given_values_kept(tmp_path: Path):
    path = tmp_path / "s.yml"
    path.write_text(yaml.safe_dump({"admin_password": "chosen", "nats_password": "n1"}))
    values = secrets.load_or_create(path)
    assert values["admin_password"] == "chosen" and values["nats_password"] == "n1"
    assert set(secrets.SECRET_KEYS) <= set(values)
    assert yaml.safe_load(path.read_text()) == values


def test_fingerprint_format_and_independence():
    a = secrets.complete({})[0]
    b = secrets.complete({})[0]
    fp = a["ssh_proxy_host_key_fingerprint"]
    assert len(fp.split(":")) == 16 and all(len(x) == 2 for x in fp.split(":"))
    assert fp == secrets.ssh_md5_fingerprint(a["ssh_proxy_host_key"])
    assert a["admin_password"] != b["admin_password"] and fp != b["ssh_proxy_host_key_fingerprint"]


def test_fingerprint_matches_what_an_ssh_client_sees():
    import hashlib
    import io

    import paramiko

    values = secrets.complete({})[0]
    key = paramiko.RSAKey.from_private_key(io.StringIO(values["ssh_proxy_host_key"]))
    digest = hashlib.md5(key.asbytes(), usedforsecurity=False).hexdigest()
    assert values["ssh_proxy_host_key_fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, 32, 2))
    assert key.get_bits() == 2048


def test_own_host_key_in_the_secrets_file_drives_cf_and_diego(tmp_path: Path):
    from manifest_facts import UUID

    from manifests.generate import build_all

    own = secrets.complete({})[0]["ssh_proxy_host_key"]
    path = tmp_path / "s.yml"
    path.write_text(yaml.safe_dump({"ssh_proxy_host_key": own, "ssh_proxy_host_key_fingerprint": "stale"}))
    manifests = build_all("v0", director_uuid=UUID, secrets_file=path)
    assert manifests["cell1"]["properties"]["diego"]["ssh_proxy"]["host_key"] == own
    assert manifests["cf"]["properties"]["app_ssh"]["host_key_fingerprint"] == secrets.ssh_md5_fingerprint(own)


@pytest.mark.parametrize("text,expected", [("- a list\n", "is not a map"), ("a: [unclosed\n", "cannot read secrets file")])
def test_a_damaged_secrets_file_is_one_clear_error_naming_it(tmp_path: Path, text: str, expected: str):
    """`--resume` registers the run's secrets from this file: damaged, the resume is refused
    naming the file (fixtures/resume.py), instead of a YAML traceback."""
    path = tmp_path / "secrets.yml"
    path.write_text(text)
    with pytest.raises(secrets.SecretsError) as err:
        secrets.read(path)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert secrets.read(tmp_path / "absent.yml") == {}
