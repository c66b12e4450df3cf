"""The simulator's `redis` job with a fake world: real redis-server processes, driven only by
bus events and the instances' deployed properties."""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from simulator.jobs import redis as redis_job
from simulator.server import reserve_loopback_network
from simulator.world import PROFILES, AddressMap, InstanceView, JobTemplate, World

pytestmark = pytest.mark.usefixtures("redis_server")

PASSWORD = "s3cr3t pass"  # a space: the config file must quote it


def _world(tmp_path, net: ipaddress.IPv4Network) -> World:
    return World(profile=PROFILES["fast"], state_dir=tmp_path, addresses=AddressMap(loopback_network=net))


def _inst(ip: str, group: str, index: int = 0, version: str = "12", **props) -> InstanceView:
    """An instance of the `redis` job; by default of redis-boshrelease v12, which applies
    `redis.password` (v9/v9.1 do not)."""
    return InstanceView(
        deployment="redis-test", group=group, index=index, id=f"{group}-{index}-0000-aaaa-bbbb",
        ips=[ip], templates=[JobTemplate("redis", "redis", version)], properties={"redis": props},
    )


def _client(world: World, ip: str, port: int = 6379, password: str | None = PASSWORD) -> redis.Redis:
    return redis.Redis(host=world.addresses.to_loopback(ip), port=port, password=password, socket_timeout=3,
                       retry=Retry(NoBackoff(), 0))


def _wait_value(client: redis.Redis, key: str, want: bytes, timeout: float = 10.0) -> bytes | None:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = client.get(key)
        if got == want:
            return got
        time.sleep(0.05)
    return got


@pytest.fixture
def world(tmp_path):
    # A loopback /16 reserved as the simulator reserves its own, so parallel workers (and a
    # running simulator) never collide on the same 127.N.x.y:6379.
    reservation = reserve_loopback_network()
    w = _world(tmp_path, reservation.network)
    redis_job.attach(w)
    yield w
    w.components["redis"].close()
    reservation.close()


def test_leader_and_follower_replicate_with_the_deployed_password(world):
    leader = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    follower = _inst("10.244.40.3", "redis_z1", password=PASSWORD, master="10.244.40.2")
    world.bus.emit("started", leader)
    world.bus.emit("started", follower)

    _client(world, "10.244.40.2").set("k", "v1")
    assert _wait_value(_client(world, "10.244.40.3"), "k", b"v1") == b"v1"
    assert _client(world, "10.244.40.3").info("replication")["role"] == "slave"
    assert _client(world, "10.244.40.2").info("replication")["role"] == "master"


def test_wrong_or_missing_password_is_refused(world):
    world.bus.emit("started", _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD))
    with pytest.raises(redis.AuthenticationError):
        _client(world, "10.244.40.2", password="nope").ping()
    with pytest.raises(redis.AuthenticationError):
        _client(world, "10.244.40.2", password=None).get("k")


def test_port_property_and_bind_address(world):
    world.bus.emit("started", _inst("10.244.40.7", "redis_leader_z1", password=PASSWORD, port=16399))
    assert _client(world, "10.244.40.7", port=16399).ping() is True
    addr = world.components["redis"].running()
    assert list(addr.values()) == [(world.addresses.to_loopback("10.244.40.7"), 16399)]


def test_password_is_not_on_the_command_line(world, tmp_path):
    inst = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    world.bus.emit("started", inst)
    proc = world.components["redis"]._procs[inst.id]
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "redis-server" in cmdline
    assert PASSWORD not in cmdline
    conf = world.components["redis"].instance_dir(inst) / "redis.conf"
    assert conf.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("event", ["stopped", "deleted"])
def test_stopped_or_deleted_instance_stops_its_server(world, event):
    inst = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    world.bus.emit("started", inst)
    addr = (world.addresses.to_loopback("10.244.40.2"), 6379)
    socket.create_connection(addr, timeout=2).close()
    assert list(world.components["redis"].logs) == [inst.id]
    world.bus.emit(event, inst)
    assert world.components["redis"].running() == {}
    assert world.components["redis"].logs == {}  # nothing kept for servers that are gone
    with pytest.raises(OSError):
        socket.create_connection(addr, timeout=2).close()


def test_restart_picks_up_changed_properties(world):
    inst = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    world.bus.emit("started", inst)
    world.bus.emit("stopped", inst)
    inst.properties = {"redis": {"password": "other-pass"}}
    world.bus.emit("started", inst)
    assert _client(world, "10.244.40.2", password="other-pass").ping() is True
    with pytest.raises(redis.AuthenticationError):
        _client(world, "10.244.40.2").ping()


def test_instances_without_the_template_are_ignored(world):
    other = InstanceView(deployment="cf", group="router_z1", index=0, id="r-0", ips=["10.244.0.34"],
                         templates=[JobTemplate("gorouter", "cf", "220")], properties={})
    world.bus.emit("started", other)
    assert world.components["redis"].running() == {}


@pytest.mark.parametrize("version", ["9", "9.1", "9+dev.1", "10"])
def test_releases_before_v11_ignore_the_password(world, version):
    """redis-boshrelease v9/v9.1/v10 write no requirepass: the password in the manifest is
    not applied (@v9.1 jobs/redis/templates/config/redis.conf.erb)."""
    leader = _inst("10.244.40.2", "redis_leader_z1", version=version, password=PASSWORD)
    follower = _inst("10.244.40.3", "redis_z1", version=version, password=PASSWORD, master="10.244.40.2")
    world.bus.emit("started", leader)
    world.bus.emit("started", follower)
    _client(world, "10.244.40.2", password=None).set("k", "v")
    assert _wait_value(_client(world, "10.244.40.3", password=None), "k", b"v") == b"v"


def test_v11_applies_the_spec_default_password_and_v12_drops_auth_for_an_empty_one(world):
    world.bus.emit("started", _inst("10.244.40.2", "redis_leader_z1", version="11"))  # no password in the manifest
    assert _client(world, "10.244.40.2", password="r3d!s").ping() is True
    with pytest.raises(redis.AuthenticationError):
        _client(world, "10.244.40.2", password=None).get("k")
    world.bus.emit("started", _inst("10.244.40.4", "redis_leader_z1", index=1, version="12", password=""))
    assert _client(world, "10.244.40.4", password=None).ping() is True


def test_data_survives_a_restart_through_the_snapshot_on_its_store(world):
    """As the release configures it: RDB save points, the snapshot written on SIGTERM and
    read again on start, in the instance's store (its persistent disk)."""
    inst = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    world.bus.emit("started", inst)
    conf = (world.components["redis"].instance_dir(inst) / "redis.conf").read_text()
    assert "save 900 1\nsave 300 10\nsave 60 10000\n" in conf and "appendonly no" in conf
    _client(world, "10.244.40.2").set("survivor", "yes")
    world.bus.emit("stopped", inst)
    assert (world.components["redis"].store_dir(inst) / "dump.rdb").is_file()
    world.bus.emit("started", inst)
    assert _client(world, "10.244.40.2").get("survivor") == b"yes"


def test_deleting_the_instance_deletes_its_store(world):
    inst = _inst("10.244.40.2", "redis_leader_z1", password=PASSWORD)
    world.bus.emit("started", inst)
    _client(world, "10.244.40.2").set("gone", "soon")
    world.bus.emit("deleted", inst)
    assert not world.components["redis"].store_dir(inst).exists()
    world.bus.emit("started", inst)  # a new instance on the same address starts empty
    assert _client(world, "10.244.40.2").get("gone") is None
