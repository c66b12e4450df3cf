"""Production's recorded state, drift from it, and staging's reset that carries an adopted
drift into staging's own address range."""

import copy

import pytest

from fixtures.redis import build_candidate
from promotion import candidate as cand
from promotion import drift
from promotion.ledger import Record
from promotion.manifest import render
from promotion.parity import DEFAULT_ALLOWED, public_view


@pytest.fixture(scope="module")
def candidate(tmp_path_factory, redis_upstream):
    from promotion.store import LocalStore

    store = LocalStore(tmp_path_factory.mktemp("store"))
    digest = build_candidate(store, redis_upstream, {"redis": "12"})
    return cand.read(store.get(cand.key(digest)), digest)


def _job(manifest, name):
    return next(j for j in manifest["jobs"] if j["name"] == name)


def test_the_digest_ignores_passwords_and_formatting_but_not_settings(candidate):
    a = render(candidate, "production", "u", "pw-1")
    b = render(candidate, "production", "u", "pw-2")
    assert drift.manifest_digest(a) == drift.manifest_digest(b)
    c = copy.deepcopy(a)
    _job(c, "redis_z1")["instances"] = 3
    assert drift.manifest_digest(c) != drift.manifest_digest(a)
    assert "pw-1" not in str(public_view(a))


def test_state_follows_deploys_adoptions_and_deletes():
    recs = [Record("c1", "production", "deploy", "passed", "r1", seq=1, manifest_digest="m1"),
            Record("c2", "production", "deploy", "failed", "r2", seq=2, manifest_digest="m2"),
            Record("c1", "production", "adopt", "recorded", "r3", seq=3, manifest_digest="m3",
                   extra={"manifest": {"name": "x"}})]
    state = drift.state_of(recs, "production")
    assert (state.candidate, state.manifest_digest, state.seq, state.adopted) == ("c1", "m3", 3, {"name": "x"})
    assert "with drift adopted at #3" in state.describe()
    recs.append(Record("none", "production", "delete", "passed", "r4", seq=4))
    assert drift.state_of(recs, "production") is None


def test_staging_reset_carries_the_adopted_drift_in_its_own_addresses(candidate):
    production = render(candidate, "production", "u", "p")
    running = copy.deepcopy(production)
    _job(running, "redis_z1")["instances"] = 3
    _job(running, "redis_leader_z1")["persistent_disk"] = 4096
    _job(running, "redis_test_slave_z1")["networks"][0]["static_ips"] = ["10.244.43.9"]  # per-environment
    running["properties"]["redis"]["maxmemory"] = "1gb"  # a key the templates do not have
    state = drift.EnvState(candidate.digest, drift.manifest_digest(running), 9, public_view(running))
    changes = drift.adopted_changes(state, production, DEFAULT_ALLOWED)
    assert sorted(d.dotted for d in changes) == [
        "jobs.redis_leader_z1.persistent_disk", "jobs.redis_z1.instances", "properties.redis.maxmemory"]
    staging = render(candidate, "staging", "u", "s")
    reset = drift.reset_manifest(staging, changes)
    assert _job(reset, "redis_z1")["instances"] == 3 and _job(reset, "redis_leader_z1")["persistent_disk"] == 4096
    assert reset["properties"]["redis"]["maxmemory"] == "1gb"
    assert reset["name"] == "redis-staging"
    assert _job(reset, "redis_test_slave_z1")["networks"][0]["static_ips"] == ["10.244.42.3"]  # staging's own
    assert _job(reset, "redis_z1")["properties"]["redis"]["master"] == "10.244.42.2"
    assert _job(reset, "redis_leader_z1")["properties"]["redis"]["password"] == "s"
    assert staging == render(candidate, "staging", "u", "s")  # the render itself is untouched


def test_an_address_moved_in_production_is_moved_in_staging_too(candidate):
    production = render(candidate, "production", "u", "p")
    running = copy.deepcopy(production)
    _job(running, "redis_z1")["properties"]["redis"]["master"] = "10.244.43.3"  # the test follower's offset
    state = drift.EnvState(candidate.digest, drift.manifest_digest(running), 9, public_view(running))
    changes = drift.adopted_changes(state, production, DEFAULT_ALLOWED)
    reset = drift.reset_manifest(render(candidate, "staging", "u", "s"), changes)
    assert _job(reset, "redis_z1")["properties"]["redis"]["master"] == "10.244.42.3"


def test_drift_lines_show_recorded_against_running(candidate):
    production = render(candidate, "production", "u", "p")
    running = copy.deepcopy(production)
    _job(running, "redis_z1")["instances"] = 3
    assert drift.drift_lines(public_view(production), running) == ["jobs.redis_z1.instances: recorded=2 running=3"]
    assert drift.drift_lines(public_view(production), None) == ["the deployment is not on the director"]
