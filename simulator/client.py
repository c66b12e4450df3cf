"""A client of a running simulator, for the project's own tests and benchmarks.

It speaks to the simulator exactly as the suite would (the config's resolve map and CA,
through helpers.net), plus the fault admin endpoint. No pytest here: benchmarks use it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import requests
import yaml

from helpers.config import parse_config
from helpers.net import Resolver, http_session

DIRECTOR = "https://192.168.50.4:25555"


class SimulatorClient:
    """`cf_trust`: PEM certificates of the HAProxy certificate(s) the caller deploys
    (`ha_proxy.ssl_pem`), trusted for CF and app hosts as the suite trusts what it deploys."""

    def __init__(self, config: dict[str, Any], cf_trust: Iterable[str] = ()) -> None:
        self.config = config
        self.cf_trust = list(cf_trust)
        self.http = self.session()
        self._token: str | None = None

    def session(self) -> requests.Session:
        """A new session honouring the resolve map, verifying the director with the config's
        `bosh` TLS settings and everything else with its `cf` ones (plus `cf_trust`), with the
        original host names, never leaving 127.0.0.0/8."""
        config = parse_config(self.config).with_cf_trust(self.cf_trust)
        return http_session(config.cf.tls, Resolver(self.config["resolve"], loopback_only=True),
                            timeout=(5.0, 30.0), retries=0, tls_by_prefix={DIRECTOR: config.bosh.tls})

    @property
    def bosh_auth(self) -> tuple[str, str]:
        """The director's credentials: basic, or the UAA client when the director uses UAA."""
        bosh = self.config["bosh"]
        if bosh.get("client"):
            return bosh["client"], bosh["client_secret"]
        return bosh["username"], bosh["password"]

    @property
    def uses_uaa(self) -> bool:
        return bool(self.config["bosh"].get("client"))

    def bosh_token(self) -> str:
        """A fresh access token from the director's token endpoint (UAA mode)."""
        resp = self.http.post(DIRECTOR + "/oauth/token", data={"grant_type": "client_credentials"},
                              auth=self.bosh_auth, timeout=30)
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def bosh(self, method: str, path: str, **kw: Any) -> requests.Response:
        """A director request with its credentials (`auth=` overrides them; in UAA mode a
        bearer token is fetched once and kept)."""
        if self.uses_uaa and "auth" not in kw:
            if self._token is None:
                self._token = self.bosh_token()
            headers = dict(kw.pop("headers", None) or {})
            headers.setdefault("Authorization", f"bearer {self._token}")
            kw["headers"] = headers
        else:
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
                raise AssertionError(f"task {task_id} ({task.get('description')!r}) still {task['state']} "
                                     f"after {timeout}s")
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
