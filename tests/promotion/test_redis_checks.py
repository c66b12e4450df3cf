"""The integration checks pass on a healthy Redis and fail, by name, on a broken one (real
redis-servers run by the simulator's redis job on a fake world)."""

from __future__ import annotations

import pytest
from fakes import FakeDirector

from promotion.checks import (
    RedisTarget,
    check_replicated,
    check_sentinel,
    check_wrong_password,
    run_checks,
    target_from,
    write_sentinel,
)
from simulator.world import InstanceView, JobTemplate

pytestmark = pytest.mark.usefixtures("redis_server")


@pytest.fixture
def sim(tmp_path):
    d = FakeDirector(tmp_path)
    yield d
    d.close()


def _start(sim, ip, group, version="12", **props):
    """A redis server of redis-boshrelease `version` (12 applies redis.password; 9.1 does not)."""
    inst = InstanceView(deployment="redis-x", group=group, index=0, id=f"{group}-{ip}", ips=[ip],
                        templates=[JobTemplate("redis", "redis", version)], properties={"redis": props})
    sim.world.bus.emit("started", inst)
    return inst


def test_healthy_cluster_passes_every_check(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", password="pw", master="10.244.40.2")
    report = run_checks(RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw"), sim.resolve, wait=5)
    assert report.passed, report.summary()
    assert [r.name for r in report.results] == [
        "authenticate", "write and read on leader", "replicated to followers", "wrong password refused"]


def test_follower_that_does_not_replicate_fails_by_name(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", password="pw")  # no redis.master: a lone server
    r = check_replicated(RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw"), sim.resolve, "k", "v", wait=0.5)
    assert not r.passed and "10.244.40.3" in r.detail


def test_leader_without_password_fails_the_wrong_password_check(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="")  # v12: an empty password removes auth
    r = check_wrong_password(RedisTarget("10.244.40.2", (), 6379, ""), sim.resolve)
    assert not r.passed


def test_wrong_configured_password_fails_authentication(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    report = run_checks(RedisTarget("10.244.40.2", (), 6379, "not-pw"), sim.resolve, wait=0.5)
    assert not report.passed
    assert "authenticate: FAILED" in report.summary()
    assert "not-pw" not in report.summary()


def test_no_followers_is_a_failure():
    r = check_replicated(RedisTarget("10.244.40.2", (), 6379, "pw"), lambda h, p: (h, p), "k", "v")
    assert not r.passed and "no running followers" in r.detail


def test_target_from_manifest_and_instances():
    manifest = {"jobs": [
        {"name": "redis_leader_z1", "networks": [{"name": "redis1", "static_ips": ["10.244.40.2"]}],
         "properties": {"redis": {"password": "pw"}}},
        {"name": "redis_z1", "properties": {"redis": {"master": "10.244.40.2", "password": "pw", "port": 7000}}},
        {"name": "acceptance-tests", "lifecycle": "errand", "properties": {"redis": {"master": "10.244.40.2"}}},
    ]}
    instances = [{"job_name": "redis_leader_z1", "ips": ["10.244.40.2"]},  # vms?format=full rows (2015)
                 {"job_name": "redis_z1", "ips": ["10.244.40.12"]}, {"job": "redis_z1", "ips": ["10.244.40.11"]},
                 {"job_name": "acceptance-tests", "ips": ["10.244.40.13"]}]
    t = target_from(manifest, instances)
    assert (t.leader, t.followers, t.port, t.password) == ("10.244.40.2", ("10.244.40.11", "10.244.40.12"), 6379, "pw")
    assert "pw" not in repr(t)


def test_follower_of_a_wrong_master_fails_replication(sim):
    """A follower that replicates, but from another leader, never sees our write."""
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.41.2", "redis_leader_z1", password="pw")  # another environment's leader
    _start(sim, "10.244.40.3", "redis_z1", password="pw", master="10.244.41.2")
    report = run_checks(RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw"), sim.resolve, wait=0.5)
    assert [r.name for r in report.results if not r.passed] == ["replicated to followers"]


def test_stopped_leader_fails_authentication_and_the_write(sim):
    leader = _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    sim.world.bus.emit("stopped", leader)
    report = run_checks(RedisTarget("10.244.40.2", (), 6379, "pw"), sim.resolve, wait=0.5)
    failed = [r.name for r in report.results if not r.passed]
    assert failed == ["authenticate", "write and read on leader", "replicated to followers", "wrong password refused"]


def test_a_follower_missing_from_the_director_fails_replication(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", password="pw", master="10.244.40.2")
    target = RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw", expected_followers=2)
    r = check_replicated(target, sim.resolve, "k", "v", wait=0.5)
    assert not r.passed and "the manifest asks for 2" in r.detail


def test_target_expects_the_manifests_follower_count():
    manifest = {"jobs": [
        {"name": "redis_leader_z1", "instances": 1, "networks": [{"name": "n", "static_ips": ["10.244.40.2"]}],
         "properties": {"redis": {"password": "pw"}}},
        {"name": "redis_z1", "instances": 2, "properties": {"redis": {"master": "10.244.40.2"}}},
        {"name": "redis_test_slave_z1", "instances": 1, "properties": {"redis": {"master": "10.244.40.2"}}},
    ]}
    assert target_from(manifest, []).expected_followers == 3


def _keys(sim, ip, password="pw"):
    import redis

    host, port = sim.resolve(ip, 6379)
    with redis.Redis(host=host, port=port, password=password, socket_timeout=3) as client:
        return sorted(k.decode() for k in client.keys("promotion-check-*"))


def test_checks_leave_no_key_behind(sim):
    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", password="pw", master="10.244.40.2")
    target = RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw")
    assert run_checks(target, sim.resolve, wait=5).passed
    sentinel = write_sentinel(target, sim.resolve)
    assert sentinel.written and _keys(sim, "10.244.40.2") == [sentinel.key]
    assert check_sentinel(target, sim.resolve, sentinel, wait=5).passed
    assert _keys(sim, "10.244.40.2") == []
    import time

    deadline = time.monotonic() + 5
    while _keys(sim, "10.244.40.3") and time.monotonic() < deadline:  # the deletion replicates
        time.sleep(0.05)
    assert _keys(sim, "10.244.40.3") == []


def test_a_key_a_crashed_run_leaves_expires(sim):
    """Keys carry a TTL from the moment they are written: a run that dies before deleting
    them still leaves nothing for long."""
    import redis

    from promotion.checks import CHECK_TTL, SENTINEL_TTL, check_write_read

    _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    target = RedisTarget("10.244.40.2", (), 6379, "pw")
    sentinel = write_sentinel(target, sim.resolve)
    assert check_write_read(target, sim.resolve, "promotion-check-x", "v").passed
    host, port = sim.resolve("10.244.40.2", 6379)
    with redis.Redis(host=host, port=port, password="pw", socket_timeout=3) as client:
        assert 0 < client.ttl(sentinel.key) <= SENTINEL_TTL
        assert 0 < client.ttl("promotion-check-x") <= CHECK_TTL


def test_sentinel_lost_in_a_restart_without_its_store_fails_by_name(sim):
    leader = _start(sim, "10.244.40.2", "redis_leader_z1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", password="pw", master="10.244.40.2")
    target = RedisTarget("10.244.40.2", ("10.244.40.3",), 6379, "pw")
    sentinel = write_sentinel(target, sim.resolve)
    sim.world.bus.emit("deleted", leader)  # the leader's disk is gone: a new, empty leader
    sim.world.bus.emit("started", leader)
    r = check_sentinel(target, sim.resolve, sentinel, wait=1)
    assert not r.passed and r.name == "data survived the deploy" and "gone" in r.detail


def test_a_release_that_applies_no_password_is_checked_without_one(sim):
    """redis-boshrelease 9.1 ignores redis.password: the checks connect without it and do not
    expect a wrong one refused (there is nothing to refuse it)."""
    _start(sim, "10.244.40.2", "redis_leader_z1", version="9.1", password="pw")
    _start(sim, "10.244.40.3", "redis_z1", version="9.1", password="pw", master="10.244.40.2")
    manifest = {"releases": [{"name": "redis", "version": "9.1"}], "jobs": [
        {"name": "redis_leader_z1", "instances": 1, "templates": [{"name": "redis", "release": "redis"}],
         "networks": [{"name": "n", "static_ips": ["10.244.40.2"]}], "properties": {"redis": {"password": "pw"}}},
        {"name": "redis_z1", "instances": 1, "properties": {"redis": {"master": "10.244.40.2", "password": "pw"}}}]}
    target = target_from(manifest, [{"job_name": "redis_z1", "ips": ["10.244.40.3"]}])
    assert (target.auth, target.release) == (False, "redis/9.1")
    report = run_checks(target, sim.resolve, wait=5)
    assert report.passed, report.summary()
    assert "wrong password refused: ok" in report.summary()
    assert "not applicable: redis/9.1 does not apply redis.password" in report.results[-1].detail
    # had the release applied it (v12), the same target would have to refuse a wrong one
    assert target_from({**manifest, "releases": [{"name": "redis", "version": "12"}]}, []).auth is True
