"""Both stores (a directory and a real S3 API served by moto) behave alike."""

import pytest

from promotion.store import LocalStore, StoreError, open_store


def test_put_get_exists_list(candidate_store):
    candidate_store.put("candidates/a.tgz", b"one")
    candidate_store.put("ledger/2.json", b"two")
    candidate_store.put("ledger/1.json", b"three")
    assert candidate_store.get("candidates/a.tgz") == b"one"
    assert candidate_store.exists("candidates/a.tgz")
    assert not candidate_store.exists("candidates/b.tgz")
    assert candidate_store.list("ledger/") == ["ledger/1.json", "ledger/2.json"]


def test_missing_key_is_a_clear_error(candidate_store):
    with pytest.raises(StoreError, match=r"candidates/nope\.tgz not found"):
        candidate_store.get("candidates/nope.tgz")


def test_create_is_exclusive(candidate_store):
    assert candidate_store.create("locks/staging.lock", b"first") is True
    assert candidate_store.create("locks/staging.lock", b"second") is False
    assert candidate_store.get("locks/staging.lock") == b"first"
    candidate_store.delete("locks/staging.lock")
    assert candidate_store.create("locks/staging.lock", b"third") is True


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b"])
def test_keys_cannot_escape_the_store(local_store, bad):
    with pytest.raises(StoreError, match="invalid store key"):
        local_store.put(bad, b"x")


def test_open_store_picks_backend_by_url(tmp_path, s3_settings):
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    s3 = open_store("s3://bucket/some/prefix", s3_settings)
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")


def test_s3_settings_never_show_the_secret_key():
    from promotion.store import S3Settings, s3_settings

    settings = S3Settings(access_key_id="AKID", secret_access_key="sekrit-key")
    assert "sekrit-key" not in repr(settings) and "AKID" in repr(settings)
    from_env = s3_settings(None, "http://127.0.0.1:1", {"AWS_SECRET_ACCESS_KEY": "env-secret"})
    assert (from_env.secret_access_key, from_env.endpoint_url) == ("env-secret", "http://127.0.0.1:1")
