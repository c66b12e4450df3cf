"""The integration checks pass on a healthy Redis and fail, by name, on a broken one (real
redis-servers run by the simulator's redis job on a fake world)."""

from __future__ import annotations

import shutil

import pytest
from promotion_fakes import FakeDirector

from promotion.checks import RedisTarget, check_replicated, check_wrong_password, run_checks, target_from
from simulator.world import InstanceView, JobTemplate

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture
def sim(tmp_path):
    d = FakeDirector(tmp_path)
    yield d
    d.close()


def _start(sim, ip, group, **props):
    inst = InstanceView(deployment="redis-x", group=group, index=0, id=f"{group}-{ip}", ips=[ip],
                        templates=[JobTemplate("redis", "redis", "9.1")], properties={"redis": props})
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
    _start(sim, "10.244.40.2", "redis_leader_z1")
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
    instances = [{"job": "redis_leader_z1", "ips": ["10.244.40.2"]}, {"job": "redis_z1", "ips": ["10.244.40.12"]},
                 {"job": "redis_z1", "ips": ["10.244.40.11"]}, {"job": "acceptance-tests", "ips": ["10.244.40.13"]}]
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
