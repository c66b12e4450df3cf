"""CC + UAA + logs over the real Diego runtime: a push through the v2 API runs real probe
processes; stats, instances, logs, scale and component outages behave end to end."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator import cloudcontroller, loggregator
from simulator import diego as diego_mod
from tests.simulator.test_cc_fakes import Api, _route, assert_cc_error, bearer, cf_properties, wait_for
from tests.world_doubles import BRAIN, BusDirector, make_world, zip_dir


class Rig(Api):
    def __init__(self, world: Any, director: BusDirector) -> None:
        self.world = world
        self.director = director
        self.fw = self  # Api expects .fw.world
        super().__init__(self)  # type: ignore[arg-type]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    world = make_world(tmp_path, app_stage=0.0, converge_interval=0.2, route_emit_interval=0.2)
    director = BusDirector(world)
    props = cf_properties()
    director.add("cf-warden", "api_z1", ["cloud_controller_ng"], properties=props)
    director.add("cf-warden", "uaa_z1", ["uaa"], properties=props)
    director.add("cf-warden", "doppler_z1", ["doppler"], properties=props)
    director.add("cf-warden", "loggregator_trafficcontroller_z1", ["loggregator_trafficcontroller"],
                 properties=props)
    rig_brain = {t: director.add("cf-warden-diego-brain-and-pals", f"{t}_z1", [t]) for t in BRAIN}
    director.add("cf-warden-diego-cell1", "cell_z1", ["rep", "garden"])
    cloudcontroller.attach(world)
    loggregator.attach(world)
    diego_mod.attach(world)
    r = Rig(world, director)
    r.brain = rig_brain  # type: ignore[attr-defined]
    yield r
    world.components["cc"].close()
    world.components["diego"].close()


def push(rig: Rig, instances: int = 1) -> str:
    _, space_guid = rig.org_space()
    app_guid = rig.ok("POST", "/v2/apps", {"name": "probe", "space_guid": space_guid, "memory": 64,
                                           "instances": instances, "diego": True, "enable_ssh": True},
                      201)["metadata"]["guid"]
    resp, _ = _route(rig, space_guid, host="probe")
    rig.ok("PUT", f"/v2/apps/{app_guid}/routes/{resp.get_json()['metadata']['guid']}", None, 201)
    up = rig.client.put(f"/v2/apps/{app_guid}/bits?async=true", headers=bearer(rig.token),
                        data={"resources": "[]", "application": (io.BytesIO(zip_dir()), "application.zip")},
                        content_type="multipart/form-data")
    assert up.status_code == 201
    rig.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STARTED"}, 201)
    wait_for(lambda: rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]["package_state"] == "STAGED", 15)
    running(rig, app_guid, instances)
    return app_guid


def running(rig: Rig, app_guid: str, n: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        resp = rig.call("GET", f"/v2/apps/{app_guid}/instances")
        if resp.status_code != 200:
            return None
        body = resp.get_json()
        return body if len(body) == n and all(v["state"] == "RUNNING" for v in body.values()) else None
    return wait_for(check, 20)


def test_push_scale_logs_through_real_diego(rig: Rig) -> None:
    app_guid = push(rig)
    entity = rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]
    assert entity["detected_start_command"]
    stats = rig.ok("GET", f"/v2/apps/{app_guid}/stats")["0"]["stats"]
    cell = next(i for i in rig.world.instances() if i.has_template("rep"))
    assert stats["host"] == cell.ips[0]
    host = rig.world.addresses.to_loopback(stats["host"])
    reply = requests.get(f"http://{host}:{stats['port']}/log/abc123", timeout=3)
    assert reply.status_code == 200
    logs = rig.world.components["logs"]
    wait_for(lambda: any(ln.message == "nonce abc123 index 0" and ln.source_type == "APP"
                         for ln in logs.recent(app_guid)), 10)
    assert any(ln.source_type == "STG" for ln in logs.recent(app_guid))

    rig.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 2}, 201)
    assert sorted(running(rig, app_guid, 2)) == ["0", "1"]
    rig.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 1}, 201)
    running(rig, app_guid, 1)


def test_bbs_down_is_503_and_nsync_down_defers_scaling(rig: Rig) -> None:
    app_guid = push(rig)
    brain = rig.brain  # type: ignore[attr-defined]
    rig.director.down(brain["bbs"])
    assert_cc_error(rig.call("GET", f"/v2/apps/{app_guid}/instances"), 503, 220002, "CF-InstancesUnavailable")
    rig.director.start(brain["bbs"])
    rig.director.down(brain["nsync"])
    rig.ok("PUT", f"/v2/apps/{app_guid}", {"instances": 2}, 201)
    assert len(rig.ok("GET", f"/v2/apps/{app_guid}/instances")) == 2
    assert rig.cc.bridge.pending
    rig.director.start(brain["nsync"])
    running(rig, app_guid, 2)


def test_staging_fails_without_stager(rig: Rig) -> None:
    rig.director.down(rig.brain["stager"])  # type: ignore[attr-defined]
    _, space_guid = rig.org_space()
    app_guid = rig.ok("POST", "/v2/apps", {"name": "nostage", "space_guid": space_guid}, 201)["metadata"]["guid"]
    rig.client.put(f"/v2/apps/{app_guid}/bits", headers=bearer(rig.token),
                   data={"resources": "[]", "application": (io.BytesIO(zip_dir()), "application.zip")},
                   content_type="multipart/form-data")
    rig.ok("PUT", f"/v2/apps/{app_guid}", {"state": "STARTED"}, 201)
    wait_for(lambda: rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]["package_state"] == "FAILED", 10)
    entity = rig.ok("GET", f"/v2/apps/{app_guid}")["entity"]
    assert entity["staging_failed_reason"] == "StagingError" and entity["state"] == "STOPPED"
