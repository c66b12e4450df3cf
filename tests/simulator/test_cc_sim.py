"""The CF API side inside the whole simulator: deploy a small CF + Diego through the
director, then log in, push, scale, read logs and get an ssh code with the project's own
helpers (helpers/cf.py, helpers/logs.py) over HTTPS and the resolve map."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers.cf import CFError, CloudFoundry
from helpers.logs import recent_logs
from helpers.ssh import ssh_exec

STEMCELL = "bosh-warden-boshlite-ubuntu-trusty-go_agent"
PROBE = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "probe"
CF_JOBS = ["haproxy", "gorouter", "nats", "cloud_controller_ng", "uaa", "doppler", "loggregator_trafficcontroller"]
BRAIN = ["bbs", "auctioneer", "converger", "route_emitter", "nsync", "stager", "tps", "cc_uploader", "file_server"]

pytestmark = pytest.mark.slow


def _manifest(sim: Any, name: str, octet: int, jobs: list[dict[str, Any]], releases: list[dict[str, Any]],
              properties: dict[str, Any]) -> dict[str, Any]:
    info = sim.http.get("https://192.168.50.4:25555/info", timeout=10).json()
    return {
        "name": name, "director_uuid": info["uuid"], "releases": releases,
        "networks": [{"name": "net", "subnets": [{
            "range": f"10.244.{octet}.0/24", "gateway": f"10.244.{octet}.1", "reserved": [f"10.244.{octet}.1"],
            "static": [f"10.244.{octet}.2 - 10.244.{octet}.20"]}]}],
        "resource_pools": [{"name": "small", "network": "net", "stemcell": {"name": STEMCELL, "version": "latest"}}],
        "update": {"canaries": 1, "max_in_flight": 4, "canary_watch_time": 1000, "update_watch_time": 1000},
        "jobs": jobs, "properties": properties,
    }


def _job(name: str, templates: list[tuple[str, str]]) -> dict[str, Any]:
    return {"name": name, "templates": [{"name": t, "release": r} for t, r in templates], "instances": 1,
            "resource_pool": "small", "networks": [{"name": "net"}]}


@pytest.fixture(scope="module")
def cf(sim: Any) -> CloudFoundry:
    cfg = sim.cf_config()
    suffix = uuid.uuid4().hex[:6]
    props = {
        "system_domain": cfg.cf.system_domain or "bosh-lite.com", "app_domains": [cfg.cf.apps_domain],
        "ha_proxy": {"ssl_pem": sim.haproxy_ssl_pem},
        "cc": {"allow_app_ssh_access": True, "default_to_diego_backend": True},
        "app_ssh": {"oauth_client_id": "ssh-proxy"},  # fingerprint: the running proxy's key
        "uaa": {"scim": {"users": [f"{cfg.cf.admin_user}|{cfg.cf.admin_password}|"
                                   "cloud_controller.admin,scim.read,scim.write,doppler.firehose"]},
                "clients": {"ssh-proxy": {"secret": "ssh-secret-" + suffix}}},
    }
    cf_doc = _manifest(sim, f"ccsim-cf-{suffix}", 230,
                       [_job(f"{j}_z1", [(j, "cf")]) for j in CF_JOBS], [{"name": "cf", "version": 220}], props)
    diego_doc = _manifest(sim, f"ccsim-diego-{suffix}", 231,
                          [_job("brain_z1", [(t, "diego") for t in BRAIN]),
                           _job("access_z1", [("ssh_proxy", "diego")]),
                           _job("cell_z1", [("rep", "diego"), ("garden", "garden-linux")])],
                          [{"name": "diego", "version": "0.1434.0"}, {"name": "garden-linux", "version": "0.307.0"}],
                          {"diego": {"ssh_proxy": {"enable_cf_auth": True,
                                                   "uaa_secret": props["uaa"]["clients"]["ssh-proxy"]["secret"]}}})
    for doc in (cf_doc, diego_doc):
        task = sim.deploy(doc)
        assert task["state"] == "done", task
    client = CloudFoundry(cfg.cf, cfg.resolver(), timeout=cfg.timeout, poll_interval=0.1)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.login()
            return client
        except CFError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_info_login_push_scale_logs_and_ssh_code(cf: CloudFoundry) -> None:
    info = cf.info()
    assert info["api_version"] == "2.39.0"
    assert info["app_ssh_oauth_client"] == "ssh-proxy"
    org_guid, space_guid = cf.ensure_org_space(f"ccsim-org-{uuid.uuid4().hex[:6]}", "space")
    app = cf.push("ccsim-probe", PROBE, space_guid, instances=1)
    stats = cf.stats(app.guid)
    assert stats[0].host.startswith("10.244.231.")
    cf.scale(app.guid, 2)
    assert len(cf.wait_running(app.guid, 2, timeout=30)) == 2
    lines = recent_logs(cf, app.guid)
    assert any(line.source_type == "STG" for line in lines)
    assert any(line.source_type == "CELL" for line in lines)
    endpoint, fingerprint, _ = cf.ssh_endpoint()
    result = ssh_exec(endpoint, fingerprint, f"cf:{app.guid}/1", cf.ssh_code(), "echo $INSTANCE_INDEX",
                      cf.resolver, timeout=20)
    assert result.exit_status == 0 and result.stdout.strip() == "1"
    assert "audit.app.ssh-authorized" in [e["type"] for e in cf.events(app.guid)]
    events = [e["type"] for e in cf.events(app.guid)]
    assert "audit.app.create" in events
    assert cf.delete_app(app.guid)
    assert cf.delete_org(org_guid)
