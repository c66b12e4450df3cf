"""Cloud Controller v2 + UAA client (thin `requests`, not cf-python-client; wire-contracts §9).

Why thin and explicit: cf-python-client needs CC's root `/` document, which CC 2.39 (cf-release
v220) does not have, and it hides the async-job, staging, `diego`/`enable_ssh` and error-code
handling the suite must control. Every wait here is bounded by a named timeout and says what
it saw last when it gives up; tokens are refreshed only on CC error 1000 (CF-InvalidAuthToken)
and never appear in an error message.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from helpers.config import TIMEOUT_DEFAULTS, CfConfig
from helpers.net import (
    REDACTOR,
    HelperError,
    Resolver,
    http_session,
    redacting_logger,
    tls_verification_failed,
)

__all__ = [
    "App",
    "CFError",
    "CFTimeoutError",
    "CloudFoundry",
    "InstanceState",
    "InstanceStats",
    "zip_directory",
]

log = redacting_logger(__name__)

NOT_YET_CODES = {170002, 220001}  # NotStaged, InstancesError (stopped / not yet started)
STATS_NOT_YET_CODES = {200003, 170002, 220001}


class CFError(HelperError):
    """A Cloud Controller / UAA error: CC's code and error_code, its description, the HTTP status."""

    def __init__(self, code: int | None, error_code: str | None, description: str, http_status: int | None,
                 request: str = ""):
        self.code = code
        self.error_code = error_code
        self.description = description
        self.http_status = http_status
        self.request = request
        parts = [f"{request}:" if request else "", f"{http_status}" if http_status else "",
                 f"{error_code or ''}{f' (code {code})' if code is not None else ''}", description]
        super().__init__(" ".join(p for p in parts if p).strip())


class CFTimeoutError(CFError):
    """A bounded wait ran out; the message holds the last state observed."""

    def __init__(self, what: str, timeout: float, last: str):
        super().__init__(None, "Timeout", f"{what}: not reached after {timeout:.0f}s; last seen: {last}", None)


@dataclass(frozen=True)
class InstanceState:
    index: int
    state: str
    since: float | None = None
    uptime: float | None = None
    details: str | None = None


@dataclass(frozen=True)
class InstanceStats:
    index: int
    state: str
    host: str | None = None
    port: int | None = None
    uptime: float | None = None
    uris: tuple[str, ...] = ()


@dataclass
class App:
    guid: str
    name: str
    space_guid: str
    instances: int = 1
    host: str | None = None
    domain: str | None = None
    route_guid: str | None = None
    routes: list[str] = field(default_factory=list)  # route guids created for this app


def zip_directory(app_dir: str | Path) -> bytes:
    """Zip an app directory in memory (relative paths, file modes kept) for the bits upload."""
    root = Path(app_dir)
    if not root.is_dir():
        raise HelperError(f"app directory {root} does not exist")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(path.relative_to(root).as_posix())
            info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _guid(resource: Mapping[str, Any]) -> str:
    return str(resource["metadata"]["guid"])


class CloudFoundry:
    """One CF API endpoint logged in as one user."""

    def __init__(
        self,
        config: CfConfig,
        resolver: Resolver | None = None,
        *,
        timeout: Callable[[str], float] | None = None,
        poll_interval: float = 0.5,
        session: requests.Session | None = None,
    ):
        if not config.api:
            raise CFError(None, None, "cf.api is not configured", None)
        self.config = config
        self.api = config.api.rstrip("/")
        self.resolver = resolver
        self._timeout = timeout or (lambda name: TIMEOUT_DEFAULTS[name])
        self.poll_interval = poll_interval
        self.session = session or http_session(
            config.tls, resolver, timeout=(self._timeout("http_connect"), self._timeout("http_read"))
        )
        REDACTOR.register(config.admin_password)
        self._info: dict[str, Any] | None = None
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    def timeout(self, name: str) -> float:
        return self._timeout(name)

    # ------------------------------------------------------------------ discovery + auth

    def info(self, refresh: bool = False) -> dict[str, Any]:
        """`GET /v2/info` (unauthenticated): endpoints for UAA, doppler, ssh."""
        if self._info is None or refresh:
            try:
                r = self.session.get(f"{self.api}/v2/info", headers={"Accept": "application/json"})
            except requests.RequestException as e:
                raise CFError(None, None, f"cannot reach the CF API at {self.api}: {e}", None, "GET /v2/info")
            if r.status_code != 200:
                raise self._error(r, "GET /v2/info")
            self._info = r.json()
        return self._info

    @property
    def uaa_url(self) -> str:
        info = self.info()
        return str(info.get("token_endpoint") or info.get("authorization_endpoint")).rstrip("/")

    def login(self) -> None:
        """Password grant with client `cf` (empty secret); retries connection errors/5xx within `login`."""
        deadline = time.monotonic() + self._timeout("login")
        data = {"grant_type": "password", "username": self.config.admin_user or "",
                "password": self.config.admin_password or "", "scope": ""}
        last = ""
        while True:
            try:
                self._token_request(data)
                return
            except CFError as e:
                transient = (e.http_status is None or e.http_status >= 500) and not tls_verification_failed(e)
                last = str(e)
                if not transient or time.monotonic() >= deadline:
                    if transient:
                        raise CFTimeoutError("CF login", self._timeout("login"), last)
                    raise
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _token_request(self, data: Mapping[str, str]) -> None:
        try:
            url = f"{self.uaa_url}/oauth/token"
            r = self.session.post(url, data=dict(data), auth=("cf", ""), headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise CFError(None, None, f"cannot reach UAA: {e}", None, "POST /oauth/token")
        if r.status_code != 200:
            desc = r.text[:300]
            try:
                body = r.json()
                desc = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                pass
            if r.status_code == 401 and data.get("grant_type") == "password":
                desc += " (credentials were rejected: check cf.admin_user / cf.admin_password)"
            raise CFError(None, "UAA-Error", desc, r.status_code, "POST /oauth/token")
        body = r.json()
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token") or self.refresh_token
        REDACTOR.register(self.access_token, body.get("refresh_token"))

    def refresh(self) -> None:
        """Refresh the access token (falls back to a fresh login if the refresh token is rejected)."""
        if self.refresh_token:
            try:
                self._token_request({"grant_type": "refresh_token", "refresh_token": self.refresh_token, "scope": ""})
                return
            except CFError as e:
                log.info("token refresh failed (%s); logging in again", e)
        self.login()

    def auth_header(self) -> dict[str, str]:
        if not self.access_token:
            self.login()
        return {"Authorization": f"bearer {self.access_token}"}

    # ------------------------------------------------------------------ requests

    @staticmethod
    def _error(r: requests.Response, what: str) -> CFError:
        code = error_code = None
        desc = r.text.strip()[:500] or r.reason
        try:
            body = r.json()
            if isinstance(body, dict):
                code = body.get("code")
                error_code = body.get("error_code")
                desc = str(body.get("description") or desc)
        except ValueError:
            pass
        return CFError(code, error_code, desc, r.status_code, what)

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """An authenticated CC request; refreshes once on 401 code 1000; raises CFError on >= 400."""
        url = path if path.startswith("http") else f"{self.api}{path}"
        what = f"{method} {urlsplit(url).path}"
        extra_headers = kw.pop("headers", None) or {}
        for attempt in (0, 1):
            headers = {"Accept": "application/json", **extra_headers, **self.auth_header()}
            try:
                r = self.session.request(method, url, headers=headers, **kw)
            except requests.RequestException as e:
                raise CFError(None, None, f"cannot reach {urlsplit(url).netloc}: {e}", None, what)
            if r.status_code == 401 and attempt == 0:
                err = self._error(r, what)
                if err.code == 1000:
                    self.refresh()
                    continue
                raise err
            if r.status_code >= 400:
                raise self._error(r, what)
            return r
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw).json()

    def all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every resource of a (paginated) collection."""
        out: list[dict[str, Any]] = []
        page = self.get(path, params={"results-per-page": 100, **(params or {})})
        while True:
            out.extend(page.get("resources") or [])
            nxt = page.get("next_url")
            if not nxt:
                return out
            page = self.get(urljoin(self.api + "/", nxt.lstrip("/")))

    def _wait_job(self, job: Mapping[str, Any], timeout_name: str, what: str) -> None:
        url = (job.get("metadata") or {}).get("url")
        status = (job.get("entity") or {}).get("status")
        limit = self._timeout(timeout_name)
        deadline = time.monotonic() + limit
        while status not in ("finished", "failed"):
            if time.monotonic() >= deadline:
                raise CFTimeoutError(f"{what}: job {url}", limit, f"status {status}")
            time.sleep(self.poll_interval)
            job = self.get(url)
            status = (job.get("entity") or {}).get("status")
        if status == "failed":
            d = (job.get("entity") or {}).get("error_details") or {}
            raise CFError(d.get("code"), d.get("error_code"), f"{what} failed: {d.get('description')}", None,
                          f"job {url}")

    def _delete(self, path: str, what: str) -> bool:
        """DELETE with recursive+async; waits for the job. False when it was already gone."""
        try:
            r = self.request("DELETE", path, params={"recursive": "true", "async": "true"})
        except CFError as e:
            if e.http_status == 404:
                return False
            raise
        if r.status_code == 202 and r.content:
            self._wait_job(r.json(), "delete", what)
        return True

    # ------------------------------------------------------------------ orgs, spaces, domains

    def ensure_org_space(self, org: str, space: str) -> tuple[str, str]:
        """Find or create the org and space (space SSH allowed). Returns (org_guid, space_guid)."""
        found = self.all("/v2/organizations", {"q": f"name:{org}"})
        if found:
            org_guid = _guid(found[0])
        else:
            org_guid = _guid(self.request("POST", "/v2/organizations", json={"name": org}).json())
        found = self.all("/v2/spaces", {"q": [f"name:{space}", f"organization_guid:{org_guid}"]})
        if found:
            space_guid = _guid(found[0])
            if not found[0]["entity"].get("allow_ssh", True):
                self.request("PUT", f"/v2/spaces/{space_guid}", json={"allow_ssh": True})
        else:
            body = {"name": space, "organization_guid": org_guid, "allow_ssh": True}
            space_guid = _guid(self.request("POST", "/v2/spaces", json=body).json())
        return org_guid, space_guid

    def find_org(self, name: str) -> str | None:
        found = self.all("/v2/organizations", {"q": f"name:{name}"})
        return _guid(found[0]) if found else None

    def delete_org(self, guid: str) -> bool:
        """Delete an org and everything in it (recursive). Only for orgs this run created."""
        return self._delete(f"/v2/organizations/{guid}", f"delete org {guid}")

    def domain_guid(self, name: str | None = None) -> tuple[str, str]:
        """(guid, name) of the apps domain: the configured one, else the first shared domain."""
        name = name or self.config.apps_domain
        params = {"q": f"name:{name}"} if name else {}
        found = self.all("/v2/shared_domains", params)
        if not found:
            raise CFError(130002, "CF-DomainNotFound", f"shared domain {name or '(any)'} not found", 404,
                          "GET /v2/shared_domains")
        return _guid(found[0]), str(found[0]["entity"]["name"])

    # ------------------------------------------------------------------ apps

    def push(self, name: str, app_dir: str | Path, space_guid: str, instances: int = 1, enable_ssh: bool = True,
             memory: int = 64, *, disk_quota: int = 256, host: str | None = None, buildpack: str | None = None,
             command: str | None = None, environment: Mapping[str, str] | None = None) -> App:
        """Create (diego, ssh) + route + bits + start, then wait until staged and all instances RUNNING."""
        deadline = time.monotonic() + self._timeout("cf_push")
        bits = zip_directory(app_dir)
        domain_guid, domain = self.domain_guid()
        body: dict[str, Any] = {"name": name, "space_guid": space_guid, "memory": memory, "instances": instances,
                                "disk_quota": disk_quota, "diego": True, "enable_ssh": enable_ssh}
        if buildpack:
            body["buildpack"] = buildpack
        if command:
            body["command"] = command
        if environment:
            body["environment_json"] = dict(environment)
        app_res = self.request("POST", "/v2/apps", json=body).json()
        app = App(_guid(app_res), name, space_guid, instances, host or name, domain)
        try:
            route = self.request("POST", "/v2/routes",
                                 json={"host": app.host, "domain_guid": domain_guid, "space_guid": space_guid}).json()
            app.route_guid = _guid(route)
            app.routes.append(app.route_guid)
            self.request("PUT", f"/v2/apps/{app.guid}/routes/{app.route_guid}")
            self.upload_bits(app.guid, bits)
            self.request("PUT", f"/v2/apps/{app.guid}", json={"state": "STARTED"})
            self.wait_staged(app.guid, timeout=min(self._timeout("cf_staging"), max(1.0, deadline - time.monotonic())))
            self.wait_running(app.guid, instances,
                              timeout=min(self._timeout("app_start"), max(1.0, deadline - time.monotonic())))
        except HelperError as e:
            e.app = app  # type: ignore[attr-defined]  # so callers can clean up what was created
            raise
        return app

    def upload_bits(self, app_guid: str, bits: bytes) -> None:
        files = {"resources": (None, "[]"), "application": ("application.zip", bits, "application/zip")}
        r = self.request("PUT", f"/v2/apps/{app_guid}/bits", params={"async": "true"}, files=files)
        if r.content:
            job = r.json()
            if job.get("metadata", {}).get("url"):
                self._wait_job(job, "cf_upload", f"upload bits of app {app_guid}")

    def app(self, app_guid: str) -> dict[str, Any]:
        return self.get(f"/v2/apps/{app_guid}")

    def find_app(self, name: str, space_guid: str) -> dict[str, Any] | None:
        found = self.all("/v2/apps", {"q": [f"name:{name}", f"space_guid:{space_guid}"]})
        return found[0] if found else None

    def wait_staged(self, app_guid: str, timeout: float | None = None) -> None:
        limit = self._timeout("cf_staging") if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            ent = self.app(app_guid)["entity"]
            ps = ent.get("package_state")
            if ps == "STAGED":
                return
            if ps == "FAILED":
                raise CFError(None, ent.get("staging_failed_reason") or "StagingError",
                              f"staging of app {app_guid} failed: {ent.get('staging_failed_description') or ''}",
                              None, "staging")
            if time.monotonic() >= deadline:
                raise CFTimeoutError(f"app {app_guid} staged", limit, f"package_state {ps}, state {ent.get('state')}")
            time.sleep(self.poll_interval)

    def start(self, app_guid: str) -> None:
        self.request("PUT", f"/v2/apps/{app_guid}", json={"state": "STARTED"})

    def stop(self, app_guid: str) -> None:
        self.request("PUT", f"/v2/apps/{app_guid}", json={"state": "STOPPED"})

    def scale(self, app_guid: str, n: int) -> None:
        """Set the instance count (no restage). Callers then wait_running(app_guid, n)."""
        self.request("PUT", f"/v2/apps/{app_guid}", json={"instances": int(n)})

    def set_enable_ssh(self, app_guid: str, enabled: bool = True) -> None:
        self.request("PUT", f"/v2/apps/{app_guid}", json={"enable_ssh": enabled})

    def instances(self, app_guid: str) -> dict[int, InstanceState]:
        """Per-index state; {} while the app is not staged/started yet (CC 170002 / 220001)."""
        try:
            data = self.get(f"/v2/apps/{app_guid}/instances")
        except CFError as e:
            if e.code in NOT_YET_CODES:
                return {}
            raise
        return {
            int(k): InstanceState(int(k), str(v.get("state")), v.get("since"), v.get("uptime"), v.get("details"))
            for k, v in data.items()
        }

    def stats(self, app_guid: str) -> dict[int, InstanceStats]:
        """Per-index stats incl. `host`/`port` (the cell address); {} when the app is stopped."""
        try:
            data = self.get(f"/v2/apps/{app_guid}/stats")
        except CFError as e:
            if e.code in STATS_NOT_YET_CODES:
                return {}
            raise
        out = {}
        for k, v in data.items():
            st = v.get("stats") or {}
            port = st.get("port")
            out[int(k)] = InstanceStats(int(k), str(v.get("state")), st.get("host"),
                                        int(port) if port is not None else None, st.get("uptime"),
                                        tuple(st.get("uris") or ()))
        return out

    def wait_running(self, app_guid: str, n: int, timeout: float | None = None) -> dict[int, InstanceState]:
        """Wait until exactly indices 0..n-1 are reported and all RUNNING."""
        limit = self._timeout("app_start") if timeout is None else timeout
        deadline = time.monotonic() + limit
        last: dict[int, InstanceState] = {}
        while True:
            try:
                last = self.instances(app_guid)
            except CFError as e:
                if e.http_status is None or e.http_status < 500:
                    raise
                last = {}  # 503 CF-InstancesUnavailable during a Diego upgrade: keep waiting
            running = {i for i, s in last.items() if s.state == "RUNNING"}
            if running == set(range(n)) and set(last) == set(range(n)):
                return last
            if time.monotonic() >= deadline:
                seen = ", ".join(f"#{i} {s.state}" + (f" ({s.details})" if s.details else "")
                                 for i, s in sorted(last.items())) or "no instances reported"
                raise CFTimeoutError(f"app {app_guid}: {n} instance(s) RUNNING", limit, seen)
            time.sleep(self.poll_interval)

    def delete_app(self, guid: str) -> bool:
        """Delete an app (recursive). False if it was already gone."""
        return self._delete(f"/v2/apps/{guid}", f"delete app {guid}")

    def delete_route(self, guid: str) -> bool:
        return self._delete(f"/v2/routes/{guid}", f"delete route {guid}")

    def routes(self, app_guid: str) -> list[dict[str, Any]]:
        """Routes mapped to the app: guid, host, path, domain_guid, domain (name)."""
        out = []
        for r in self.all(f"/v2/apps/{app_guid}/routes"):
            ent = r["entity"]
            domain = None
            if ent.get("domain_url"):
                try:
                    domain = self.get(ent["domain_url"])["entity"]["name"]
                except CFError:
                    domain = None
            out.append({"guid": _guid(r), "host": ent.get("host"), "path": ent.get("path") or "",
                        "domain_guid": ent.get("domain_guid"), "domain": domain})
        return out

    def events(self, app_guid: str, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Audit events for the app (type, timestamp, metadata), oldest first."""
        q = [f"actee:{app_guid}"]
        if types:
            q.append("type IN " + ",".join(types))
        res = self.all("/v2/events", {"q": q})
        return [{"type": e["entity"].get("type"), "timestamp": e["entity"].get("timestamp"),
                 "metadata": e["entity"].get("metadata") or {}} for e in res]

    def app_url(self, app: App, scheme: str = "http") -> str:
        """Base URL of the app's route (http by default: the router's plain front)."""
        return f"{scheme}://{app.host}.{app.domain}"

    # ------------------------------------------------------------------ ssh

    def ssh_endpoint(self) -> tuple[str, str, str]:
        """(host:port, host key fingerprint, oauth client id) advertised by /v2/info."""
        info = self.info()
        endpoint = info.get("app_ssh_endpoint")
        if not endpoint:
            raise CFError(None, None, "CF does not advertise app_ssh_endpoint (is cc.allow_app_ssh_access on?)",
                          None, "GET /v2/info")
        return str(endpoint), str(info.get("app_ssh_host_key_fingerprint") or ""), \
            str(info.get("app_ssh_oauth_client") or "ssh-proxy")

    def ssh_code(self) -> str:
        """A one-time SSH password: `GET /oauth/authorize` without following the 302."""
        client = self.ssh_endpoint()[2]
        url = f"{self.uaa_url}/oauth/authorize"
        params = {"response_type": "code", "client_id": client}
        for attempt in (0, 1):
            try:
                r = self.session.get(url, params=params, headers=self.auth_header(), allow_redirects=False)
            except requests.RequestException as e:
                raise CFError(None, None, f"cannot reach UAA for an ssh code: {e}", None, "GET /oauth/authorize")
            if r.status_code == 401 and attempt == 0:
                self.refresh()
                continue
            break
        loc = r.headers.get("Location", "")
        codes = parse_qs(urlsplit(loc).query).get("code") if loc else None
        if r.status_code not in (301, 302, 303) or not codes:
            raise CFError(None, "UAA-Error", f"authorization server did not redirect with a one-time code "
                          f"(status {r.status_code})", r.status_code, "GET /oauth/authorize")
        code = codes[0]
        REDACTOR.register(code)
        return code
