"""Shared fixtures of the simulator's tests.

`sim` (session scope) starts ONE simulator with `simulator.launcher.start(...,
profile="fast")` for the whole test session and stops it at the end. It yields a `Sim`:

* `sim.config` - the suite config the simulator wrote (dict; docs/architecture.md §1),
* `sim.process` - the `SimulatorProcess` (pid, `log_tail()`, `stop()`),
* `sim.session()` - a new `requests.Session` that honours the config's `resolve` map
  (exact `host:port`, then `*.domain:port`, then CIDR entries) and verifies TLS against the
  generated CA *with the original host name* (e.g. `https://api.bosh-lite.com/v2/info`,
  `https://192.168.50.4:25555/info`),
* `sim.http` - one such session, shared,
* `sim.bosh(method, path, **kw)` - a request to the director with its basic credentials,
* `sim.wait_task(location_or_id)` - poll a task until it is finished; returns its JSON,
* `sim.task_events(task_id)` - the parsed event lines of a task,
* `sim.deploy(manifest_dict)` - POST the manifest (text/yaml) and wait: returns the task JSON,
* `sim.inject_fault(kind, target=None, **fields)` - POST /_simulator/faults; returns the id.

The simulator is shared: use deployment/app names unique to your test module. The
adapter here is deliberately small; production code uses helpers/net.py.
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from requests.adapters import HTTPAdapter

from simulator import launcher

DIRECTOR = "https://192.168.50.4:25555"


def resolve(mapping: dict[str, str], host: str, port: int) -> tuple[str, int] | None:
    """Loopback (host, port) for `host:port` per the resolve map, or None if unmapped."""
    exact = mapping.get(f"{host}:{port}")
    if exact:
        h, p = exact.rsplit(":", 1)
        return h, int(p)
    parts = host.split(".")
    for i in range(1, len(parts)):
        wildcard = mapping.get(f"*.{'.'.join(parts[i:])}:{port}")
        if wildcard:
            h, p = wildcard.rsplit(":", 1)
            return h, int(p)
    try:
        addr = ipaddress.IPv4Address(host)
    except ValueError:
        return None
    for key, value in mapping.items():
        if "/" in key:
            net, target = ipaddress.IPv4Network(key), ipaddress.IPv4Network(value)
            if addr in net:
                offset = int(addr) - int(net.network_address)
                return str(ipaddress.IPv4Address(int(target.network_address) + offset)), port
    return None


class ResolveAdapter(HTTPAdapter):
    """Connects to the loopback address of the resolve map; Host/SNI/hostname check keep the
    original name."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        super().__init__()

    def _target(self, url: str) -> tuple[str, str, int, str | None]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = resolve(self.mapping, host, port)
        if target is None:
            raise requests.ConnectionError(f"{host}:{port} is not in the resolve map")
        if not target[0].startswith("127."):
            raise requests.ConnectionError(f"{host}:{port} resolves outside loopback")
        return parts.scheme, target[0], target[1], host

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        scheme, thost, tport, original = self._target(request.url)
        host_params = {"scheme": scheme, "host": thost, "port": tport}
        if scheme == "https":
            pool_kwargs["server_hostname"] = original
            pool_kwargs["assert_hostname"] = original
        return host_params, pool_kwargs

    def send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "Host" not in request.headers:
            request.headers["Host"] = urlsplit(request.url).netloc
        return super().send(request, *args, **kwargs)


@dataclass
class Sim:
    process: launcher.SimulatorProcess
    config: dict[str, Any]
    ca_file: Path
    http: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        self.http = self.session()

    def session(self) -> requests.Session:
        s = requests.Session()
        adapter = ResolveAdapter(self.config["resolve"])
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        s.verify = str(self.ca_file)
        s.trust_env = False
        return s

    @property
    def bosh_auth(self) -> tuple[str, str]:
        return self.config["bosh"]["username"], self.config["bosh"]["password"]

    def bosh(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("auth", self.bosh_auth)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 30)
        return self.http.request(method, DIRECTOR + path, **kw)

    def wait_task(self, location_or_id: str | int, timeout: float = 60.0) -> dict[str, Any]:
        task_id = str(location_or_id).rstrip("/").rsplit("/", 1)[-1]
        deadline = time.monotonic() + timeout
        while True:
            task = self.bosh("GET", f"/tasks/{task_id}").json()
            if task["state"] not in ("queued", "processing", "cancelling"):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {task['state']} after {timeout}s")
            time.sleep(0.05)

    def task_events(self, task_id: int | str) -> list[dict[str, Any]]:
        body = self.bosh("GET", f"/tasks/{task_id}/output", params={"type": "event"}).text
        return [json.loads(line) for line in body.splitlines() if line]

    def post_yaml(self, path: str, manifest: dict[str, Any] | str, **kw: Any) -> requests.Response:
        body = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.bosh("POST", path, data=body, headers={"Content-Type": "text/yaml"}, **kw)

    def deploy(self, manifest: dict[str, Any] | str, **params: Any) -> dict[str, Any]:
        resp = self.post_yaml("/deployments", manifest, params=params or None)
        assert resp.status_code == 302, (resp.status_code, resp.text)
        return self.wait_task(resp.headers["Location"])

    def inject_fault(self, kind: str, target: str | None = None, **fields: Any) -> int:
        resp = self.bosh("POST", "/_simulator/faults", json={"kind": kind, "target": target, **fields})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    with tempfile.TemporaryDirectory(prefix="sim-test-") as tmp:
        proc = launcher.start(Path(tmp), profile="fast")
        try:
            config = proc.config()
            ca_file = Path(tmp) / "test-ca.pem"
            ca_file.write_text(config["bosh"]["ca_cert"])
            yield Sim(proc, config, ca_file)
        finally:
            proc.stop()
