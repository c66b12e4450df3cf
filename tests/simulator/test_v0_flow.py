"""The real-world example flow of issue 3, end to end on the simulator: deploy the five
generated V0 manifests through the director, push the probe app with two instances, stop the
cell deployment that hosts an instance while a thread polls the app's route every 50 ms, and
check that every request answered 200 and that the instances now run on the other cell.

The module starts its own simulator: the V0 manifests use BOSH-Lite's static IPs
(10.244.0.x ...), which would collide with another CF deployed on the shared `sim`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from helpers.bosh import Director
from helpers.cf import App, CloudFoundry
from helpers.config import Config, load_config
from helpers.net import http_session
from manifests.generate import PIECES, generate
from manifests.sets import haproxy_certificates
from simulator.launcher import start

PROBE = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "probe"


@dataclass
class V0Platform:
    config: Config
    director: Director
    cf: CloudFoundry
    names: dict[str, str]  # piece -> deployment name
    app: App


def _cell_ips(director: Director, deployment: str) -> set[str]:
    return {ip for inst in director.instances(deployment) for ip in inst.get("ips") or []}


@pytest.fixture(scope="module")
def v0(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V0Platform]:
    tmp = tmp_path_factory.mktemp("v0-flow")
    sim = start(tmp / "state", profile="fast")
    try:
        config = load_config(sim.config_path)
        resolver = config.resolver()
        director = Director(config.bosh, resolver)
        prefix = f"v0flow-{uuid.uuid4().hex[:6]}"
        paths = generate("v0", director_uuid=director.uuid(), out=tmp / "manifests", prefix=prefix,
                         secrets_file=tmp / "secrets.yml", cf_admin_user=config.cf.admin_user,
                         cf_admin_password=config.cf.admin_password)
        config = config.with_cf_trust(haproxy_certificates([paths["cf"]]))  # the suite trusts what it deploys
        names = {piece: prefix + suffix for piece, suffix in PIECES.items()}
        for piece in ("cf", "database", "brain-and-pals", "cell1", "cell2"):
            result = director.deploy(paths[piece].read_text())
            assert result.state == "done", (piece, result)
        cf = CloudFoundry(config.cf, resolver)
        cf.login()
        _org, space = cf.ensure_org_space(f"{prefix}-org", "space")
        app = cf.push(f"probe-{prefix}", PROBE, space, instances=2)
        cf.wait_running(app.guid, 2, timeout=60)
        yield V0Platform(config, director, cf, names, app)
    finally:
        sim.stop()


def test_the_five_v0_deployments_are_there(v0: V0Platform) -> None:
    assert sorted(v0.director.deployment_names()) == sorted(v0.names.values())
    for name in v0.names.values():
        states = {inst["job_state"] for inst in v0.director.instances_full(name)}
        assert states == {"running"}, (name, states)


def test_stopping_a_cell_evacuates_the_app_with_no_failed_request(v0: V0Platform) -> None:
    cells = {piece: _cell_ips(v0.director, v0.names[piece]) for piece in ("cell1", "cell2")}
    hosts = {s.host for s in v0.cf.stats(v0.app.guid).values()}
    assert hosts and hosts <= cells["cell1"] | cells["cell2"], (hosts, cells)
    # stop the cell that hosts instance 0 (the auction may have put both on one cell)
    host0 = v0.cf.stats(v0.app.guid)[0].host
    stopped = "cell1" if host0 in cells["cell1"] else "cell2"
    other = "cell2" if stopped == "cell1" else "cell1"

    url = v0.cf.app_url(v0.app)
    session = http_session(v0.config.cf.tls, v0.config.resolver(), timeout=(2.0, 2.0), retries=0)
    samples: list[int | str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                samples.append(session.get(url, timeout=2).status_code)
            except requests.RequestException as exc:
                samples.append(type(exc).__name__)
            done.wait(0.05)

    poller = threading.Thread(target=poll, name="v0-flow-poller")
    poller.start()
    try:
        time.sleep(0.3)  # some samples before the stop
        result = v0.director.change_job_state(v0.names[stopped], "stopped")
        assert result.state == "done", result
        time.sleep(0.5)  # and some after it
    finally:
        done.set()
        poller.join()

    assert len(samples) > 10, samples
    failed = [s for s in samples if s != 200]
    assert not failed, f"{len(failed)} of {len(samples)} requests failed: {failed[:10]}"
    instances = v0.cf.wait_running(v0.app.guid, 2, timeout=30)
    assert set(instances) == {0, 1}
    hosts = {s.host for s in v0.cf.stats(v0.app.guid).values()}
    assert hosts and hosts <= cells[other], (hosts, cells)
    states = {inst["job_state"] for inst in v0.director.instances_full(v0.names[stopped])}
    assert states == {"stopped"}
