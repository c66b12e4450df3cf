"""Fakes shared by the UAA/CC/logs tests: a real `World` over hand-made instances, and a
small Diego implementing the architecture §3 API. No tests here."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from werkzeug.test import Client

from simulator.world import PROFILES, InstanceView, JobTemplate, World

FINGERPRINT = "a6:d1:08:0b:b0:cb:9b:5f:c4:ba:44:2a:97:26:19:8a"
SSH_SECRET = "ssh-proxy-secret-for-tests"


def instance(group: str, templates: list[str], properties: dict[str, Any], index: int = 0,
             release: str = "cf", version: str = "220") -> InstanceView:
    return InstanceView(deployment="cf-warden" if release == "cf" else "cf-warden-diego",
                        group=group, index=index, id=f"{group}-{index}-uuid", ips=["10.244.0.34"],
                        templates=[JobTemplate(t, release, version) for t in templates],
                        properties=properties)


def cf_properties(users: Any = None, allow_ssh: bool = True) -> dict[str, Any]:
    return {
        "system_domain": "bosh-lite.com",
        "app_domains": ["bosh-lite.com"],
        "cc": {"allow_app_ssh_access": allow_ssh, "default_to_diego_backend": True,
               "default_app_memory": 256},
        "app_ssh": {"host_key_fingerprint": FINGERPRINT, "oauth_client_id": "ssh-proxy"},
        "loggregator_endpoint": {"shared_secret": "loggregator-secret"},
        "doppler": {"port": 4443},
        "uaa": {
            "scim": {"users": users if users is not None else [
                "admin|admin|scim.write,scim.read,openid,cloud_controller.admin,doppler.firehose",
                "dev|devpass|openid"]},
            "clients": {
                "ssh-proxy": {"secret": SSH_SECRET, "authorized-grant-types": "authorization_code",
                              "scope": "openid,cloud_controller.read,cloud_controller.write",
                              "redirect-uri": "/login"},
                "ops": {"secret": "ops-secret", "authorities": "cloud_controller.admin,doppler.firehose"},
                "nobody": {"secret": "nobody-secret", "authorities": "uaa.none"},
            },
        },
    }


@dataclass
class FakeWorld:
    world: World
    instances: dict[str, InstanceView] = field(default_factory=dict)

    def stop(self, name: str) -> None:
        self.instances[name].state = "stopped"
        self.instances[name].job_state = "stopped"

    def start(self, name: str) -> None:
        view = self.instances[name]
        view.state, view.job_state = "started", "running"
        self.world.bus.emit("started", view)


def make_world(tmp: Path, users: Any = None, allow_ssh: bool = True,
               with_diego: bool = True, cf_version: str = "220") -> FakeWorld:
    world = World(profile=PROFILES["fast"], state_dir=tmp)
    props = cf_properties(users, allow_ssh)
    views = {
        "api": instance("api_z1", ["cloud_controller_ng", "cloud_controller_worker"], props,
                        version=cf_version),
        "uaa": instance("uaa_z1", ["uaa"], props, version=cf_version),
        "doppler": instance("doppler_z1", ["doppler", "metron_agent"], props, version=cf_version),
        "tc": instance("loggregator_trafficcontroller_z1", ["loggregator_trafficcontroller"], props,
                       version=cf_version),
        "database": instance("database_z1", ["bbs", "etcd"], {}, release="diego", version="0.1434.0"),
        "cc_bridge": instance("cc_bridge_z1", ["nsync", "stager", "tps", "cc_uploader"], {},
                              release="diego", version="0.1434.0"),
    }
    world.set_instance_source(lambda: list(views.values()))
    fake = FakeWorld(world, views)
    if with_diego:
        world.components["diego"] = FakeDiego()
    return fake


class StagingFailed(Exception):
    reason = "NoAppDetectedError"


class FakeDiego:
    """Architecture §3 Diego API, recording calls; instances RUNNING as soon as desired."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lrps: dict[str, dict[str, Any]] = {}
        self.fail_staging = False
        self.unavailable = False
        self.stage_delay = 0.0

    def stage(self, app_guid: str, package_zip: bytes, log: Any) -> Any:
        self.calls.append(("stage", app_guid))
        log("Downloading app package...")
        if self.stage_delay:
            time.sleep(self.stage_delay)
        if self.fail_staging:
            log("None of the buildpacks detected a compatible application", "ERR")
            raise StagingFailed("no buildpack detected")
        names = zipfile.ZipFile(io.BytesIO(package_zip)).namelist() if package_zip else []
        log("Staging complete")
        return SimpleNamespace(guid=f"droplet-{app_guid}", files=names, detected_buildpack="python",
                               start_command="python app.py")

    def _check(self) -> None:
        if self.unavailable:
            raise RuntimeError("bbs unavailable")

    def desire(self, process_guid: str, app_guid: str, app_name: str, instances: int, droplet: Any,
               env: dict[str, str], routes: list[str], memory_mb: int) -> None:
        self._check()
        self.calls.append(("desire", process_guid))
        self.lrps[process_guid] = {"app_guid": app_guid, "name": app_name, "instances": instances,
                                   "routes": list(routes), "env": env, "memory_mb": memory_mb,
                                   "droplet": droplet}

    def update(self, process_guid: str, instances: int | None = None,
               routes: list[str] | None = None) -> None:
        self._check()
        self.calls.append(("update", (process_guid, instances, routes)))
        if instances is not None:
            self.lrps[process_guid]["instances"] = instances
        if routes is not None:
            self.lrps[process_guid]["routes"] = list(routes)

    def remove(self, process_guid: str) -> None:
        self._check()
        self.calls.append(("remove", process_guid))
        self.lrps.pop(process_guid, None)

    def instances(self, process_guid: str) -> list[Any]:
        self._check()
        lrp = self.lrps.get(process_guid)
        if lrp is None:
            return []
        return [SimpleNamespace(index=i, instance_guid=f"ig-{i}", state="RUNNING", since=time.time() - 5,
                                cell_id="cell_z1-0", cell_ip="10.244.16.6", port=61000 + i,
                                address=("127.37.16.6", 61000 + i), cell_versions={"diego": "0.1434.0"})
                for i in range(lrp["instances"])]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def password_token(uaa_client: Client, user: str = "admin", password: str = "admin") -> dict[str, Any]:
    resp = uaa_client.post("/oauth/token", headers=basic("cf", ""),
                           data={"grant_type": "password", "username": user, "password": password})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"bearer {token}"}


def zip_bytes(files: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in (files or {"app.py": "print('hi')\n", "Procfile": "web: python app.py\n"}).items():
            zf.writestr(name, text)
    return buf.getvalue()


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


class Api:
    """A test client that sends the admin token on every request."""

    def __init__(self, fw: FakeWorld) -> None:
        self.fw = fw
        self.cc = fw.world.components["cc"]
        self.uaa_client = Client(fw.world.components["uaa"].wsgi)
        self.client = Client(self.cc.wsgi)
        self.token = password_token(self.uaa_client)["access_token"]

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, **kw: Any) -> Any:
        headers = bearer(token or self.token)
        return self.client.open(path, method=method, json=body, headers=headers, **kw)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.call(method, path, body)
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
        return resp.get_json()

    def org_space(self, org: str = "o", space: str = "s") -> tuple[str, str]:
        org_guid = self.ok("POST", "/v2/organizations", {"name": org}, 201)["metadata"]["guid"]
        space_guid = self.ok("POST", "/v2/spaces", {"name": space, "organization_guid": org_guid},
                             201)["metadata"]["guid"]
        return org_guid, space_guid


def assert_cc_error(resp: Any, status: int, code: int, error_code: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code
    assert body["error_code"] == error_code
    assert isinstance(body["description"], str) and body["description"]


def _route(api: Api, space_guid: str, host: str = "acc-app", path: str = "") -> Any:
    domain_guid = api.ok("GET", "/v2/shared_domains")["resources"][0]["metadata"]["guid"]
    body = {"host": host, "domain_guid": domain_guid, "space_guid": space_guid}
    if path:
        body["path"] = path
    return api.call("POST", "/v2/routes", body), domain_guid
