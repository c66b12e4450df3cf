"""The 2015 upstream templates merge with our per-environment templates and director stub
into manifests shaped like upstream's own (expected-manifest.yml of the warden stub)."""

from __future__ import annotations

import pytest
import yaml

from fixtures.redis import build_candidate
from promotion import candidate as cand
from promotion.manifest import render
from promotion.parity import DEFAULT_ALLOWED, diff, normalize, violations


@pytest.fixture(scope="module")
def candidate(tmp_path_factory, redis_upstream):
    from promotion.store import LocalStore

    store = LocalStore(tmp_path_factory.mktemp("store"))
    digest = build_candidate(store, redis_upstream, {"redis": "9.1"})
    return cand.read(store.get(cand.key(digest)), digest)


@pytest.fixture(scope="module")
def upstream_expected(redis_upstream):
    return yaml.safe_load((redis_upstream / "expected-manifest.yml").read_text())


@pytest.mark.parametrize("env", cand.ENVIRONMENTS)
def test_environment_manifest_has_upstreams_shape(candidate, upstream_expected, env):
    m = render(candidate, env, "uuid-x", "pw")
    assert set(m) == set(upstream_expected)
    assert [j["name"] for j in m["jobs"]] == [j["name"] for j in upstream_expected["jobs"]]
    assert m["name"] == f"redis-{env}"
    assert m["director_uuid"] == "uuid-x"
    assert m["releases"] == [{"name": "redis", "version": "9.1"}]
    assert m["resource_pools"][0]["stemcell"]["name"] == "bosh-warden-boshlite-ubuntu-trusty-go_agent"
    jobs = {j["name"]: j for j in m["jobs"]}
    leader_ip = jobs["redis_leader_z1"]["networks"][0]["static_ips"][0]
    subnet = m["networks"][0]["subnets"][0]
    assert leader_ip in subnet["static"]
    for follower in ("redis_z1", "redis_test_slave_z1"):
        assert jobs[follower]["properties"]["redis"]["master"] == leader_ip
        assert jobs[follower]["properties"]["redis"]["password"] == "pw"
    assert "password" not in m["meta"]  # helper keys upstream does not declare stay out


def test_staging_and_production_differ_only_per_environment(candidate):
    d = diff(normalize(render(candidate, "staging", "u1", "a")), normalize(render(candidate, "production", "u2", "b")))
    assert d, "the two environments must differ at least in name and addresses"
    assert violations(d, DEFAULT_ALLOWED) == []


def test_parity_holds_with_the_pipelines_default_policy(candidate):
    """The allow-list is the ledger's policy (built-in version 0 = DEFAULT_ALLOWED), never a
    default of the caller's config, which states none unless it is given."""
    from helpers.config import PromotionConfig
    from promotion.policy import DEFAULT

    assert PromotionConfig().allowed_diff_paths is None
    assert DEFAULT.allowed_diff_paths == DEFAULT_ALLOWED
    d = diff(normalize(render(candidate, "staging", "u1", "a")), normalize(render(candidate, "production", "u2", "b")))
    assert violations(d, DEFAULT.allowed_diff_paths) == []


def test_dev_may_scale_differently(candidate):
    d = diff(normalize(render(candidate, "dev1", "u", "a")), normalize(render(candidate, "staging", "u", "a")))
    assert "jobs.redis_z1.instances" in [x.dotted for x in violations(d, DEFAULT_ALLOWED)]
