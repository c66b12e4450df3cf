"""Diego, router and ssh proxy inside the real simulator: deploy CF + Diego pieces through the
director, push the probe app with the project's CF client, keep polling it through the router
while a cell deployment is stopped (evacuation), and ssh into an instance."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paramiko
import pytest
import requests

from helpers.cf import CloudFoundry
from helpers.logs import LogsError, recent_logs, stream_logs
from helpers.ssh import app_ssh_exec
from simulator.sshproxy import fingerprint_md5

DOPPLER_4443 = "wss://doppler.bosh-lite.com:4443"
PROBE = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "probe"
STEMCELL = "bosh-warden-boshlite-ubuntu-trusty-go_agent"
SSH_SECRET = "e2e-ssh-proxy-secret"
HOST_KEY = paramiko.RSAKey.generate(1024)


def _pem() -> str:
    buf = io.StringIO()
    HOST_KEY.write_private_key(buf)
    return buf.getvalue()


def _manifest(sim: Any, name: str, octet: int, releases: list[dict[str, Any]], jobs: list[dict[str, Any]],
              properties: dict[str, Any] | None = None) -> dict[str, Any]:
    info = sim.http.get("https://192.168.50.4:25555/info", timeout=10).json()
    for job in jobs:
        job.setdefault("instances", 1)
        job.setdefault("resource_pool", "small")
        job.setdefault("networks", [{"name": "net"}])
    return {
        "name": name, "director_uuid": info["uuid"], "releases": releases,
        "networks": [{"name": "net", "subnets": [{
            "range": f"10.244.{octet}.0/24", "gateway": f"10.244.{octet}.1", "reserved": [f"10.244.{octet}.1"],
            "static": [f"10.244.{octet}.2 - 10.244.{octet}.20"]}]}],
        "resource_pools": [{"name": "small", "network": "net", "stemcell": {"name": STEMCELL, "version": "latest"}}],
        "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1000, "update_watch_time": 1000,
                   "serial": True},
        "jobs": jobs, "properties": properties or {},
    }


@pytest.fixture(scope="module")
def platform(sim: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    password = sim.config["cf"]["admin_password"]
    cf_props = {
        "system_domain": "bosh-lite.com", "app_domains": ["bosh-lite.com"],
        "ha_proxy": {"ssl_pem": sim.haproxy_ssl_pem},
        "cc": {"allow_app_ssh_access": True, "default_to_diego_backend": True},
        "app_ssh": {"host_key_fingerprint": fingerprint_md5(HOST_KEY), "oauth_client_id": "ssh-proxy"},
        "loggregator_endpoint": {"shared_secret": "e2e-loggregator-secret"}, "doppler": {"port": 4443},
        "uaa": {"scim": {"users": [f"{sim.config['cf']['admin_user']}|{password}|scim.write,scim.read,openid,"
                                   "cloud_controller.admin,doppler.firehose"]},
                "clients": {"ssh-proxy": {"secret": SSH_SECRET, "authorized-grant-types": "authorization_code",
                                          "scope": "openid,cloud_controller.read,cloud_controller.write"}}},
    }
    cf = [{"name": "ha_proxy_z1", "templates": [{"name": "haproxy"}]},
          {"name": "router_z1", "templates": [{"name": "gorouter"}, {"name": "nats"}]},
          {"name": "api_z1", "templates": [{"name": "cloud_controller_ng"}, {"name": "uaa"},
                                           {"name": "loggregator_trafficcontroller"}, {"name": "doppler"}]}]
    diego_rel = [{"name": "diego", "version": "0.1434.0"}, {"name": "garden-linux", "version": "0.307.0"}]
    brain = [{"name": "brain_z1", "templates": [{"name": t, "release": "diego"} for t in (
        "bbs", "auctioneer", "converger", "route_emitter", "nsync", "stager", "tps", "cc_uploader",
        "file_server")]},
        {"name": "access_z1", "templates": [{"name": "ssh_proxy", "release": "diego"}]}]
    brain_props = {"diego": {"ssh_proxy": {"host_key": _pem(), "uaa_secret": SSH_SECRET, "enable_cf_auth": True}}}
    names = {"cf": f"e2e-cf-{suffix}", "brain": f"e2e-brain-{suffix}", "cell1": f"e2e-cell1-{suffix}",
             "cell2": f"e2e-cell2-{suffix}"}
    docs = [
        _manifest(sim, names["cf"], 231, [{"name": "cf", "version": 220}], cf, cf_props),
        _manifest(sim, names["brain"], 232, diego_rel, brain, brain_props),
        _manifest(sim, names["cell1"], 233, diego_rel, [{"name": "cell_z1", "templates": [
            {"name": "rep", "release": "diego"}, {"name": "garden", "release": "garden-linux"}]}]),
        _manifest(sim, names["cell2"], 234, diego_rel, [{"name": "cell_z2", "templates": [
            {"name": "rep", "release": "diego"}, {"name": "garden", "release": "garden-linux"}]}]),
    ]
    for doc in docs:
        task = sim.deploy(doc)
        assert task["state"] == "done", (task, sim.bosh("GET", f"/tasks/{task['id']}/output",
                                                       params={"type": "event"}).text[-600:])
    config = sim.cf_config()
    client = CloudFoundry(config.cf, config.resolver())
    client.login()
    _org, space = client.ensure_org_space(f"e2e-{suffix}", "space")
    app = client.push(f"probe-{suffix}", PROBE, space, instances=2, enable_ssh=True, memory=64)
    client.wait_running(app.guid, 2, timeout=60)
    return {"names": names, "cf": client, "app": app, "config": config}


def test_app_is_routed_and_each_instance_answers(sim: Any, platform: dict[str, Any]) -> None:
    client, app = platform["cf"], platform["app"]
    url = client.app_url(app)
    seen = {sim.http.get(url, timeout=5).text for _ in range(6)}
    assert seen == {f"probe {app.name} instance 0\n", f"probe {app.name} instance 1\n"}
    stats = client.stats(app.guid)
    # the simulator is shared with other modules, whose cells also take part in the auction:
    # what matters is that the auction spreads the two instances over two cells
    assert len({s.host for s in stats.values()}) == 2, f"both instances on one cell: {stats}"
    # the era's gorouter has no X-CF-APP-INSTANCE: the header is ignored, requests round-robin
    pinned = {sim.http.get(url + "/index", headers={"X-CF-APP-INSTANCE": f"{app.guid}:1"}, timeout=5).text
              for _ in range(4)}
    assert pinned == {"0", "1"}
    secure = sim.http.get(client.app_url(app, scheme="https") + "/index", timeout=5)  # TLS verified
    assert secure.status_code == 200 and secure.text in ("0", "1")


def test_stats_name_the_cell_and_the_external_port_the_instance_is_told(sim: Any,
                                                                        platform: dict[str, Any]) -> None:
    """TPS stats report cellIP:external (the garden NetIn); the app listens on 8080 in its
    container and is told the mapping; cellIP:external reaches that very instance."""
    client, app, config = platform["cf"], platform["app"], platform["config"]
    stats = client.stats(app.guid)
    assert sorted(stats) == [0, 1]
    for index, st in stats.items():
        assert st.host is not None and st.host.startswith("10.244."), st
        assert st.port is not None and 60000 <= st.port < 65000, st
        direct = "http://{}:{}".format(*config.resolver().resolve(st.host, st.port))
        env = sim.http.get(direct + "/env", timeout=5).json()
        assert env["CF_INSTANCE_INDEX"] == str(index)
        assert env["PORT"] == "8080"
        assert env["CF_INSTANCE_ADDR"] == f"{st.host}:{st.port}"
        assert json.loads(env["CF_INSTANCE_PORTS"]) == [{"external": st.port, "internal": 8080}]
        vcap = json.loads(env["VCAP_APPLICATION"])
        assert (vcap["host"], vcap["port"], vcap["instance_index"]) == ("0.0.0.0", 8080, index)
        assert vcap["application_name"] == app.name


def test_ssh_exec_in_an_instance(platform: dict[str, Any]) -> None:
    client, app, config = platform["cf"], platform["app"], platform["config"]
    result = app_ssh_exec(client, app.guid, 1, "echo $CF_INSTANCE_INDEX; exit 3", config.resolver())
    assert result.exit_status == 3
    assert result.stdout.strip() in ("1", b"1")


def test_cell_stop_evacuates_without_failed_requests(sim: Any, platform: dict[str, Any]) -> None:
    client, app = platform["cf"], platform["app"]
    url = client.app_url(app)
    statuses: list[Any] = []
    stop = threading.Event()

    def poll() -> None:
        session = sim.session()
        while not stop.is_set():
            try:
                statuses.append(session.get(url, timeout=2).status_code)
            except requests.RequestException as exc:
                statuses.append(type(exc).__name__)
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        cell = platform["names"]["cell1"]
        # the default (2015) director reads a job-level change's manifest from the body
        manifest = sim.bosh("GET", f"/deployments/{cell}").json()["manifest"]
        resp = sim.bosh("PUT", f"/deployments/{cell}/jobs/*", params={"state": "stopped"},
                        headers={"Content-Type": "text/yaml"}, data=manifest)
        task = sim.wait_task(resp.headers["Location"])
        assert task["state"] == "done", task
        time.sleep(0.5)
    finally:
        stop.set()
        poller.join()
    assert len(statuses) > 5
    assert set(statuses) == {200}, [s for s in statuses if s != 200]
    stats = client.stats(app.guid)
    # no instance is left on the stopped cell (others' cells in the shared simulator may take them)
    assert not [s.host for s in stats.values() if s.host.startswith("10.244.233.")], stats


def test_streaming_logs_through_haproxy_4443_and_the_router_tunnel(sim: Any, platform: dict[str, Any]) -> None:
    client, app = platform["cf"], platform["app"]
    nonce = uuid.uuid4().hex[:10]
    # the shared simulator may run other CFs whose manifests set no doppler.port: name :4443 here
    with stream_logs(client, app.guid, url=DOPPLER_4443) as stream:
        assert sim.http.get(client.app_url(app) + f"/log/{nonce}", timeout=5).status_code == 200
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            line = stream.next_line(timeout=1)
            if line is not None:
                seen.append(line)
                if line.message.startswith(f"nonce {nonce} index "):
                    break
        match = [ln for ln in seen if ln.message.startswith(f"nonce {nonce} index ")]
        assert match, f"no streamed line for nonce {nonce}; saw {[str(ln) for ln in seen]}"
        assert match[0].source_type.startswith("APP") and match[0].stream == "OUT"
    stopper = stream_logs(client, app.guid, url=DOPPLER_4443)
    threading.Timer(0.3, stopper.stop).start()
    started = time.monotonic()
    list(stopper)  # iteration ends when another thread stops the stream
    assert 0.25 <= time.monotonic() - started < 5


def test_streaming_with_a_refused_token_names_the_answer(platform: dict[str, Any]) -> None:
    client = platform["cf"]
    with pytest.raises(LogsError, match=r"doppler.bosh-lite.com:4443/apps/no-such-app/stream answered 401: "
                                        r"You are not authorized. Error: Invalid authorization"):
        stream_logs(client, "no-such-app", url=DOPPLER_4443)


def test_recent_logs_of_the_era_never_ask_for_root_or_log_cache(platform: dict[str, Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    client, app = platform["cf"], platform["app"]
    asked: list[str] = []
    original = client.session.request

    def recording(method: str, url: str, *args: Any, **kw: Any) -> Any:
        asked.append(url)
        return original(method, url, *args, **kw)

    monkeypatch.setattr(client.session, "request", recording)
    lines = recent_logs(client, app.guid)
    assert lines, "the pushed app has logs"
    doppler = client.info()["doppler_logging_endpoint"].replace("wss://", "https://")
    assert [u for u in asked if "/recentlogs" in u] == [f"{doppler}/apps/{app.guid}/recentlogs"]
    assert not [u for u in asked if "log-cache" in u or u.rstrip("/") == client.api]
