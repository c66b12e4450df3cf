"""Diego runtime: staging, placement, crash + converge, evacuation, route emission, cleanup."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from fakes import FakeCC

from simulator import diego as diego_mod
from simulator import router as router_mod
from simulator.diego import RUNNING, UNCLAIMED, Diego, DiegoUnavailable, StagingError
from simulator.router import Router
from simulator.world import InstanceView, World
from tests.world_doubles import BRAIN, BusDirector, RecordingLogs, make_world, zip_dir


@dataclass
class Rig:
    world: World
    director: BusDirector
    diego: Diego
    router: Router
    logs: RecordingLogs
    cc: FakeCC
    brain: dict[str, InstanceView]
    cells: list[InstanceView]

    def url(self, path: str = "/") -> str:
        return f"http://{self.world.published['*.bosh-lite.com:80']}{path}"

    def get(self, host: str, path: str = "/", **headers: str) -> requests.Response:
        return requests.get(self.url(path), headers={"Host": host, **headers}, timeout=3)

    def push(self, name: str, instances: int, routes: list[str] | None = None) -> str:
        app_guid = str(uuid.uuid4())
        droplet = self.diego.stage(app_guid, zip_dir())
        pg = f"{app_guid}-v1"
        env = {"CUSTOM": "yes", "VCAP_APPLICATION": json.dumps({"application_name": name})}
        self.diego.desire(pg, app_guid, name, instances, droplet, env,
                          [f"{name}.bosh-lite.com"] if routes is None else routes, 64)
        return pg


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running(rig: Rig, pg: str, n: int) -> list:
    return wait_for(lambda: (lambda xs: xs if len(xs) == n and all(x.state == RUNNING for x in xs) else None)(
        rig.diego.instances(pg)), what=f"{n} running instances")


def routed(rig: Rig, host: str, n: int) -> None:
    wait_for(lambda: len(rig.router.routes().get(host, [])) == n, what=f"{n} routes for {host}")


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def build(cells: int = 2, **profile: float) -> Rig:
        settings = {"evacuation_timeout": 3.0, "route_emit_interval": 0.2, "router_ttl": 1.0,
                    "converge_interval": 0.2, "app_stage": 0.0, **profile}
        world = make_world(tmp_path / f"rig{len(rigs)}", **settings)
        logs, cc = RecordingLogs(), FakeCC()
        world.components["logs"], world.components["cc"] = logs, cc
        director = BusDirector(world)
        director.add("cf-warden", "ha_proxy_z1", ["haproxy"])
        director.add("cf-warden", "router_z1", ["gorouter"])
        brain = {t: director.add("cf-warden-diego-brain-and-pals", f"{t}_z1", [t]) for t in BRAIN}
        cell_list = [director.add(f"cf-warden-diego-cell{i + 1}", f"cell_z{i + 1}", ["rep", "garden"])
                     for i in range(cells)]
        diego_mod.attach(world)
        router_mod.attach(world)
        rig = Rig(world, director, world.components["diego"], world.components["router"], logs, cc, brain,
                  cell_list)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        rig.diego.close()
        rig.router.close()


def test_placement_env_and_routing(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 2)
    instances = running(rig, pg, 2)
    assert {i.cell_id for i in instances} == {c.id for c in rig.cells}, "instances not balanced"
    routed(rig, "probe.bosh-lite.com", 2)
    seen = {rig.get("probe.bosh-lite.com").text for _ in range(4)}
    assert seen == {"probe probe instance 0\n", "probe probe instance 1\n"}
    # the era's router round-robins (no X-CF-APP-INSTANCE): collect each index's /env
    by_index: dict[int, dict] = {}
    for _ in range(8):
        env = rig.get("probe.bosh-lite.com", "/env").json()
        by_index[int(env["CF_INSTANCE_INDEX"])] = env
    assert sorted(by_index) == [0, 1]
    endpoints = {e.tag.index: e for e in rig.router.routes()["probe.bosh-lite.com"]}
    for inst in instances:
        cell = next(c for c in rig.cells if c.id == inst.cell_id)
        assert inst.cell_ip == cell.ips[0]
        assert inst.cell_versions == {"diego": "0.1434.0", "garden-linux": "0.307.0"}
        # outside the container everything is cellIP:external, the port from garden's pool
        assert inst.port is not None and 60000 <= inst.port < 65000, inst.port
        assert inst.address == (rig.world.addresses.to_loopback(cell.ips[0]), inst.port)
        assert endpoints[inst.index].endpoint == inst.address  # where the router dials
        assert endpoints[inst.index].public == (cell.ips[0], inst.port)  # what the route emitter registered
        env = by_index[inst.index]
        # inside: the app listens on the container port; the executor tells it the mapping
        assert env["PORT"] == "8080"
        assert "VCAP_APP_PORT" not in env  # Diego of the era did not set it (nsync 755ba9a, Dec 2016)
        assert env["CF_INSTANCE_IP"] == cell.ips[0]
        assert env["CF_INSTANCE_PORT"] == str(inst.port)
        assert env["CF_INSTANCE_ADDR"] == f"{cell.ips[0]}:{inst.port}"
        assert env["CF_INSTANCE_PORTS"] == f'[{{"external":{inst.port},"internal":8080}}]'
        assert env["CF_INSTANCE_GUID"] == env["INSTANCE_GUID"] == inst.instance_guid
        assert env["CF_INSTANCE_INDEX"] == env["INSTANCE_INDEX"] == str(inst.index)
        assert env["LANG"] == "en_US.UTF-8"
        assert env["CUSTOM"] == "yes"
        # the launcher's additions to CC's VCAP_APPLICATION (Go's encoding: compact, keys sorted)
        vcap = json.loads(env["VCAP_APPLICATION"])
        assert vcap == {"application_name": "probe", "host": "0.0.0.0", "port": 8080,
                        "instance_id": inst.instance_guid, "instance_index": inst.index}
        assert env["VCAP_APPLICATION"] == json.dumps(vcap, sort_keys=True, separators=(",", ":"))
        container = rig.diego.instance_container(pg, inst.index)
        assert env["VCAP_APP_HOST"] == container.address and container.ports == {8080}
        cwd, ssh_env = rig.diego.instance_dir_env(pg, inst.index)
        assert env["HOME"] == str(cwd) and ssh_env["CF_INSTANCE_GUID"] == inst.instance_guid
    # app stdout reaches the logs with source APP and the instance index
    for _ in range(2):  # round robin: one of the two lands on instance 1
        rig.get("probe.bosh-lite.com", "/log/n0nce")
    wait_for(lambda: any(line[1:4] == ("APP", "1", "nonce n0nce index 1") for line in rig.logs.lines),
             what="app log line")
    assert any(line[1] == "CELL" and "healthy" in line[3] for line in rig.logs.lines)


def _refused(address: tuple[str, int] | None) -> bool:
    assert address is not None
    try:
        with socket.create_connection(address, timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def _get(address: tuple[str, int] | None, path: str) -> str:
    assert address is not None
    return requests.get(f"http://{address[0]}:{address[1]}{path}", timeout=3).text


def test_each_instance_listens_in_its_own_container_at_8080(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 2)
    instances = running(rig, pg, 2)
    containers = {i.index: rig.diego.instance_container(pg, i.index) for i in instances}
    assert len({c.address for c in containers.values()}) == 2, "two instances share a container address"
    for inst in instances:
        container = containers[inst.index]
        address = ipaddress.IPv4Address(container.address)
        assert address in rig.diego.garden.network.network  # the reserved container /16 ...
        assert address not in rig.world.addresses.loopback_network  # ... which is not the VMs' one
        assert _get((container.address, 8080), "/id") == inst.instance_guid  # the app, in its container
        assert _get(inst.address, "/id") == inst.instance_guid  # garden's NetIn on the cell
        assert _refused((inst.address[0], 8080)), "the app must not listen on the cell's address"
        assert _refused((container.address, inst.port)), "the external port is the cell's, not the container's"


def test_net_in_goes_with_the_container(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 2)
    first = {i.index: i for i in running(rig, pg, 2)}
    container_1 = rig.diego.instance_container(pg, 1)
    process_1 = rig.diego.bbs.actuals[pg][1].process
    rig.diego.update(pg, instances=1)  # scale down: instance 1's container is destroyed
    wait_for(lambda: not process_1.alive, what="instance 1 stopped")
    assert _refused(first[1].address), "a stopped instance's external port must refuse connections"
    assert _refused((container_1.address, 8080))
    assert _get(first[0].address, "/index") == "0"
    # a crash destroys the container too (no converger: it stays crashed)
    rig.director.down(rig.brain["converger"])
    rig.world.faults.inject("kill_instance", "probe", params={"index": 0})
    wait_for(lambda: rig.diego.instances(pg)[0].state == "CRASHED", what="crash")
    wait_for(lambda: _refused(first[0].address), what="the crashed instance's external port to refuse")
    rig.director.start(rig.brain["converger"])
    again = running(rig, pg, 1)[0]
    # garden's pool is first in, first out: the new container does not get the old port back
    assert again.port not in (first[0].port, first[1].port)
    assert _get(again.address, "/id") == again.instance_guid


def test_staging_needs_its_components(make_rig, tmp_path: Path) -> None:
    rig = make_rig()
    rig.director.down(rig.brain["stager"])
    with pytest.raises(DiegoUnavailable):
        rig.diego.stage("g", zip_dir())
    rig.director.start(rig.brain["stager"])
    empty = tmp_path / "noprocfile"
    empty.mkdir()
    (empty / "app.py").write_text("print('hi')\n")
    with pytest.raises(StagingError) as err:
        rig.diego.stage("g", zip_dir(empty))
    assert err.value.reason == "NoAppDetectedError"
    for cell in rig.cells:
        rig.director.down(cell)
    with pytest.raises(DiegoUnavailable):
        rig.diego.stage("g", zip_dir())


def test_bbs_down_makes_reads_and_writes_unavailable(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 1)
    running(rig, pg, 1)
    rig.director.down(rig.brain["bbs"])
    with pytest.raises(DiegoUnavailable):
        rig.diego.instances(pg)
    with pytest.raises(DiegoUnavailable):
        rig.diego.update(pg, instances=2)
    assert rig.get("probe.bosh-lite.com").status_code == 200  # running instances keep running
    rig.director.start(rig.brain["bbs"])
    assert len(rig.diego.instances(pg)) == 1


def test_no_auctioneer_leaves_instances_unclaimed(make_rig) -> None:
    rig = make_rig()
    rig.director.down(rig.brain["auctioneer"])
    pg = rig.push("probe", 1)
    time.sleep(0.5)
    assert [i.state for i in rig.diego.instances(pg)] == [UNCLAIMED]
    rig.director.start(rig.brain["auctioneer"])
    running(rig, pg, 1)


def test_crash_is_restarted_by_the_converger(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 1)
    first = running(rig, pg, 1)[0]
    rig.director.down(rig.brain["converger"])
    rig.world.faults.inject("kill_instance", "probe", params={"index": 0})
    wait_for(lambda: rig.diego.instances(pg)[0].state == "CRASHED", what="crash")
    time.sleep(0.6)  # no converger: it stays crashed
    crashed = rig.diego.instances(pg)[0]
    assert crashed.state == "CRASHED" and crashed.crash_count == 1
    assert any(kind == "app.crash" for _, kind, _ in rig.cc.events)
    rig.director.start(rig.brain["converger"])
    again = running(rig, pg, 1)[0]
    assert again.instance_guid != first.instance_guid
    assert again.crash_count == 1


def test_cell_lost_without_drain_is_replaced(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 2)
    instances = running(rig, pg, 2)
    victim = next(c for c in rig.cells if c.id == instances[0].cell_id)
    rig.director.down(victim)
    wait_for(lambda: all(i.state == RUNNING and i.cell_id != victim.id for i in rig.diego.instances(pg)),
             what="re-placement")


def test_evacuation_serves_every_request(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 2)
    instances = running(rig, pg, 2)
    routed(rig, "probe.bosh-lite.com", 2)
    old_process = rig.diego.bbs.actuals[pg][instances[0].index].process
    statuses: list[int | str] = []
    stop = threading.Event()

    def poll() -> None:
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    statuses.append(s.get(rig.url(), headers={"Host": "probe.bosh-lite.com"}, timeout=2).status_code)
                except requests.RequestException as exc:
                    statuses.append(type(exc).__name__)
                time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.2)
        draining = next(c for c in rig.cells if c.id == instances[0].cell_id)
        started = time.monotonic()
        rig.director.stop(draining)
        drain_time = time.monotonic() - started
        time.sleep(0.5)
    finally:
        stop.set()
        poller.join()
    assert len(statuses) > 10
    assert set(statuses) == {200}, f"failed requests during evacuation: {[s for s in statuses if s != 200]}"
    assert drain_time < 3.0, "drain waited for the timeout although another cell was free"
    after = running(rig, pg, 2)
    assert all(i.cell_id != draining.id for i in after)
    moved = next(i for i in after if i.index == instances[0].index)
    assert moved.instance_guid != instances[0].instance_guid
    assert not old_process.alive, "the evacuated instance must be stopped once replaced"
    assert _refused(instances[0].address), "the evacuated container's NetIn must be gone"
    assert _get(moved.address, "/id") == moved.instance_guid


def test_evacuation_without_another_cell_waits_for_the_timeout(make_rig) -> None:
    rig = make_rig(cells=1, evacuation_timeout=1.0)
    pg = rig.push("probe", 1)
    running(rig, pg, 1)
    routed(rig, "probe.bosh-lite.com", 1)
    process = next(iter(rig.diego.bbs.actuals[pg].values())).process
    served_during_drain: list[int] = []

    def probe_during() -> None:
        time.sleep(0.4)
        served_during_drain.append(rig.get("probe.bosh-lite.com").status_code)

    t = threading.Thread(target=probe_during)
    t.start()
    started = time.monotonic()
    rig.director.stop(rig.cells[0])
    elapsed = time.monotonic() - started
    t.join()
    assert 0.9 <= elapsed < 3.0
    assert served_during_drain == [200], "the evacuating instance must keep serving until the timeout"
    assert not process.alive
    assert [i.state for i in rig.diego.instances(pg)] == [UNCLAIMED]
    wait_for(lambda: rig.diego.instances(pg)[0].placement_error == "found no compatible cell",
             what="placement error")
    rig.director.start(rig.cells[0])
    assert running(rig, pg, 1)[0].placement_error is None


def test_routes_go_stale_only_after_ttl_when_route_emitter_is_down(make_rig) -> None:
    rig = make_rig(router_ttl=1.0)
    pg = rig.push("probe", 2)
    running(rig, pg, 2)
    routed(rig, "probe.bosh-lite.com", 2)
    rig.director.down(rig.brain["route_emitter"])
    rig.diego.update(pg, instances=1)
    time.sleep(0.3)
    # the removed instance's route is still in the table (nobody unregistered it) ...
    assert len(rig.router.routes().get("probe.bosh-lite.com", [])) == 2
    # ... requests still work (the router retries the dead endpoint elsewhere) ...
    assert all(rig.get("probe.bosh-lite.com").status_code == 200 for _ in range(4))
    # ... and after the TTL nothing is refreshed any more: every route is pruned
    time.sleep(1.2)
    assert rig.router.routes().get("probe.bosh-lite.com", []) == []
    resp = rig.get("probe.bosh-lite.com")
    assert resp.status_code == 404 and resp.headers["X-Cf-Routererror"] == "unknown_route"
    rig.director.start(rig.brain["route_emitter"])
    routed(rig, "probe.bosh-lite.com", 1)
    assert rig.get("probe.bosh-lite.com").status_code == 200


def test_remove_unregisters_and_stops(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 1)
    running(rig, pg, 1)
    routed(rig, "probe.bosh-lite.com", 1)
    process = next(iter(rig.diego.bbs.actuals[pg].values())).process
    rig.diego.remove(pg)
    assert rig.router.routes().get("probe.bosh-lite.com", []) == []
    wait_for(lambda: not process.alive, what="process stopped")


def test_close_leaves_no_processes(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 3)
    running(rig, pg, 3)
    procs = [a.process for a in rig.diego.bbs.actuals[pg].values()]
    rig.diego.close()
    assert all(not p.alive for p in procs)


def test_misplace_fault_places_replacements_on_the_draining_cell(make_rig) -> None:
    rig = make_rig(cells=1, evacuation_timeout=3.0)
    pg = rig.push("probe", 1)
    first = running(rig, pg, 1)[0]
    rig.world.faults.inject("misplace_instances", "probe", duration=10)
    started = time.monotonic()
    rig.director.stop(rig.cells[0])
    # the replacement landed on the cell that was draining, so the drain did not wait ...
    assert time.monotonic() - started < 2.5
    # ... and the instance died with its cell: the regression the fault stands for
    after = rig.diego.instances(pg)[0]
    assert after.instance_guid != first.instance_guid
    assert after.state != RUNNING or after.cell_id != rig.cells[0].id


def test_scale_up_and_down(make_rig) -> None:
    rig = make_rig()
    pg = rig.push("probe", 1)
    running(rig, pg, 1)
    rig.diego.update(pg, instances=3)
    scaled = running(rig, pg, 3)
    assert [i.index for i in scaled] == [0, 1, 2]
    routed(rig, "probe.bosh-lite.com", 3)
    rig.diego.update(pg, instances=1)
    assert [i.index for i in rig.diego.instances(pg)] == [0]
    routed(rig, "probe.bosh-lite.com", 1)
    rig.diego.update(pg, routes=["other.bosh-lite.com"])
    routed(rig, "other.bosh-lite.com", 1)
    assert rig.router.routes().get("probe.bosh-lite.com", []) == []


def test_evacuation_timeout_comes_from_the_rep_property_in_the_realistic_profile(tmp_path: Path) -> None:
    from simulator.world import PROFILES

    realistic = Diego(make_world(tmp_path / "r", PROFILES["realistic"]))
    fast = Diego(make_world(tmp_path / "f"))
    director = BusDirector(make_world(tmp_path / "d"))
    cell = director.add("cell", "cell_z1", ["rep"], properties={"diego": {"rep": {
        "evacuation_timeout_in_seconds": 42}}})
    bare = director.add("cell", "cell_z2", ["rep"])
    assert realistic.cells.evacuation_timeout(cell) == 42.0
    assert realistic.cells.evacuation_timeout(bare) == PROFILES["realistic"].evacuation_timeout
    assert fast.cells.evacuation_timeout(cell) == PROFILES["fast"].evacuation_timeout


def test_kill_instance_of_an_unknown_app_is_an_error(make_rig) -> None:
    rig = make_rig(cells=1)
    with pytest.raises(LookupError):
        rig.world.faults.inject("kill_instance", "no-such-app", params={"index": 0})
