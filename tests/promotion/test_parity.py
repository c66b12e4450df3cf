"""Parity: structural differences, per-environment addresses, allowed paths, secrets."""

from promotion.parity import DEFAULT_ALLOWED, diff, normalize, pattern_matches, public_view, violations


def _manifest(env_octet: int, name: str, followers: int = 2, password: str = "pw") -> dict:
    return {
        "name": name,
        "director_uuid": f"uuid-{name}",
        "meta": {"environment": name},
        "networks": [{"name": "redis1", "subnets": [{"range": f"10.244.{env_octet}.0/24",
                                                      "static": [f"10.244.{env_octet}.2"]}]}],
        "jobs": [
            {"name": "redis_leader_z1", "instances": 1,
             "networks": [{"name": "redis1", "static_ips": [f"10.244.{env_octet}.2"]}],
             "properties": {"redis": {"password": password}}},
            {"name": "redis_z1", "instances": followers,
             "properties": {"redis": {"master": f"10.244.{env_octet}.2", "password": password}}},
        ],
        "properties": {"redis": {"hostname": f"{name}.bosh-lite.com"}},
    }


def test_identical_shape_in_other_ranges_has_only_allowed_differences():
    d = diff(normalize(_manifest(42, "redis-staging")), normalize(_manifest(43, "redis-production", password="x")))
    paths = {x.dotted for x in d}
    assert paths == {"name", "director_uuid", "properties.redis.hostname", "networks.redis1.subnets.[0].range"}
    assert violations(d, DEFAULT_ALLOWED) == []


def test_scaling_difference_is_a_violation_named_by_job():
    d = diff(normalize(_manifest(42, "s")), normalize(_manifest(43, "p", followers=3)))
    bad = violations(d, DEFAULT_ALLOWED)
    assert [x.dotted for x in bad] == ["jobs.redis_z1.instances"]
    assert bad[0].render("staging", "production") == "jobs.redis_z1.instances: staging=2 production=3"


def test_leader_at_another_offset_is_a_difference():
    a, b = _manifest(42, "s"), _manifest(43, "p")
    b["jobs"][1]["properties"]["redis"]["master"] = "10.244.43.9"
    bad = violations(diff(normalize(a), normalize(b)), DEFAULT_ALLOWED)
    assert [x.dotted for x in bad] == ["jobs.redis_z1.properties.redis.master"]


def test_passwords_are_never_compared_or_shown():
    d = diff(_manifest(42, "s", password="one"), _manifest(42, "s", password="two"))
    assert d == []


def test_every_credential_the_project_knows_is_kept_out_of_what_is_stored_and_shown():
    """public_view is what the ledger stores (an adopted drift) and drift lines print: a
    credential added to production by hand under any name the project's redactor treats as
    one (a TLS key, a token) must not reach the store or the log."""
    m = _manifest(43, "redis-production")
    m["properties"] = {"redis": {"tls": {"private_key": "-----BEGIN KEY-----x", "ca_cert": "pub"},
                                 "auth_token": "tok-123", "client_secret": "cs", "maxmemory": "1gb"}}
    shown = str(public_view(m)) + str(diff(public_view(_manifest(43, "redis-production")), public_view(m)))
    for secret in ("BEGIN KEY", "tok-123", "'cs'", "'pw'"):
        assert secret not in shown
    assert "1gb" in shown and "pub" in shown  # what is not a credential is still compared and shown


def test_patterns_are_anchored_at_the_root():
    assert pattern_matches("networks", ("networks", "redis1", "subnets", "[0]", "range"))
    assert not pattern_matches("networks", ("jobs", "redis_z1", "networks", "redis1", "static_ips"))
    assert pattern_matches("jobs.*.networks", ("jobs", "redis_z1", "networks", "redis1", "static_ips"))
    assert pattern_matches("properties.redis.hostname", ("properties", "redis", "hostname"))
    assert not pattern_matches("properties.redis.hostname", ("jobs", "x", "properties", "redis", "hostname"))
    assert pattern_matches("**.hostname", ("jobs", "x", "properties", "redis", "hostname"))
    assert pattern_matches("**.hostname", ("hostname",))
    assert pattern_matches("jobs.*.instances", ("jobs", "redis_z1", "instances"))
    assert not pattern_matches("jobs.*.instances", ("jobs", "redis_z1", "persistent_disk"))
    assert not pattern_matches("name", ("jobs", "redis_z1", "instances"))


def test_the_name_pattern_does_not_let_a_stemcell_or_release_name_through():
    """`name` is the deployment's name, not every key called name."""
    a, b = _manifest(42, "redis-staging"), _manifest(43, "redis-production")
    a["resource_pools"] = [{"name": "small_z1", "stemcell": {"name": "ubuntu-trusty", "version": "3147"}}]
    b["resource_pools"] = [{"name": "small_z1", "stemcell": {"name": "ubuntu-xenial", "version": "3147"}}]
    bad = violations(diff(normalize(a), normalize(b)), DEFAULT_ALLOWED)
    assert [d.dotted for d in bad] == ["resource_pools.small_z1.stemcell.name"]


def test_allowed_paths_are_configurable():
    a, b = _manifest(42, "s", followers=2), _manifest(43, "p", followers=3)
    d = diff(normalize(a), normalize(b))
    assert [x.dotted for x in violations(d, DEFAULT_ALLOWED)] == ["jobs.redis_z1.instances"]
    assert violations(d, (*DEFAULT_ALLOWED, "jobs.redis_z1.instances")) == []
    assert {x.dotted for x in violations(d, ("name",))} >= {"director_uuid", "jobs.redis_z1.instances"}


def test_added_and_removed_jobs_are_differences():
    a, b = _manifest(42, "s"), _manifest(42, "s")
    b["jobs"].append({"name": "extra", "instances": 1})
    d = diff(a, b)
    assert [x.dotted for x in d] == ["jobs.extra"]
    assert "(absent)" in d[0].render("a", "b")


def test_the_docs_state_the_default_allow_list_the_code_has():
    """Issue 12: docs and code disagreed on the default allowed_diff_paths."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "promotion.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| `allowed_diff_paths` |"))
    stated = row.split("|")[2].strip().split("(")[0].strip().strip("`")
    assert [p.strip() for p in stated.split(",")] == list(DEFAULT_ALLOWED)
