"""CF client against a minimal fake Cloud Controller + UAA over HTTPS through the resolve map."""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile

import pytest
from werkzeug.wrappers import Request, Response

from helpers.cf import CFError, CFTimeoutError, CloudFoundry
from helpers.config import CfConfig
from helpers.net import Resolver

API = "https://api.bosh-lite.com"


def res(guid: str, url: str, **entity) -> dict:
    return {"metadata": {"guid": guid, "url": url}, "entity": entity}


def err(status: int, code: int, error_code: str, description: str) -> Response:
    return Response(json.dumps({"code": code, "error_code": error_code, "description": description}),
                    status=status, content_type="application/json")


class FakeCC:
    """CC v2 + UAA subset: orgs/spaces/domains/apps/routes/bits/jobs/instances/stats/ssh code."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, dict]] = []
        self.valid_tokens: set[str] = set()
        self.grants: list[str] = []
        self.orgs: dict[str, dict] = {}
        self.spaces: dict[str, dict] = {}
        self.apps: dict[str, dict] = {}
        self.routes: dict[str, dict] = {}
        self.mappings: set[tuple[str, str]] = set()
        self.jobs: dict[str, int] = {}  # job guid -> polls left before finished
        self.bits: dict[str, bytes] = {}
        self.staging_polls = 2
        self.running_polls = 2
        self.reject_10002 = False
        self.fail_staging = False

    def __call__(self, environ, start_response):
        req = Request(environ)
        with self.lock:
            self.log.append((req.method, req.full_path.rstrip("?"), dict(req.headers)))
            resp = self.route(req)
        return resp(environ, start_response)

    def _json(self, obj, status=200):
        return Response(json.dumps(obj), status=status, content_type="application/json")

    def _coll(self, items):
        return self._json({"total_results": len(items), "total_pages": 1, "next_url": None, "resources": items})

    def _token(self, grant: str):
        tok = f"tok-{uuid.uuid4()}"
        self.valid_tokens.add(tok)
        self.grants.append(grant)
        return self._json({"access_token": tok, "token_type": "bearer", "refresh_token": f"{tok}-r", "expires_in": 599})

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if p == "/v2/info":
            return self._json({"api_version": "2.39.0", "authorization_endpoint": "https://login.bosh-lite.com",
                               "token_endpoint": "https://uaa.bosh-lite.com",
                               "app_ssh_endpoint": "ssh.bosh-lite.com:2222",
                               "app_ssh_host_key_fingerprint": "a6:d1:08:0b:b0:cb:9b:5f:c4:ba:44:2a:97:26:19:8a",
                               "app_ssh_oauth_client": "ssh-proxy",
                               "doppler_logging_endpoint": "wss://doppler.bosh-lite.com:443"})
        if p == "/oauth/token":
            assert req.host == "uaa.bosh-lite.com"
            a = req.authorization
            if not a or a.username != "cf" or a.password:
                return Response('{"error":"unauthorized"}', status=401)
            f = req.form
            if f["grant_type"] == "password":
                if (f["username"], f["password"]) != ("admin", "cf-admin-pw"):
                    return self._json({"error": "unauthorized", "error_description": "Bad credentials"}, 401)
                return self._token("password")
            if f["grant_type"] == "refresh_token" and f["refresh_token"].endswith("-r"):
                return self._token("refresh_token")
            return self._json({"error": "invalid_token"}, 401)
        tok = req.headers.get("Authorization", "").removeprefix("bearer ")
        if not tok or self.reject_10002:
            return err(401, 10002, "CF-NotAuthenticated", "Authentication error")
        if tok not in self.valid_tokens:
            return err(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
        if p == "/oauth/authorize":
            if req.args.get("response_type") != "code" or req.args.get("client_id") != "ssh-proxy":
                return Response("bad", status=400)
            return Response("", status=302, headers={"Location": "https://uaa.bosh-lite.com/login?code=abc123"})
        return self.cc(req, p, m)

    def cc(self, req: Request, p: str, m: str) -> Response:
        body = req.get_json(silent=True) or {}
        q = req.args.getlist("q")
        if p == "/v2/organizations" and m == "GET":
            name = q[0].split(":", 1)[1]
            return self._coll([o for o in self.orgs.values() if o["entity"]["name"] == name])
        if p == "/v2/organizations" and m == "POST":
            g = str(uuid.uuid4())
            self.orgs[g] = res(g, f"/v2/organizations/{g}", name=body["name"])
            return self._json(self.orgs[g], 201)
        if p.startswith("/v2/organizations/") and m == "DELETE":
            g = p.rsplit("/", 1)[1]
            if g not in self.orgs:
                return err(404, 30003, "CF-OrganizationNotFound", "not found")
            del self.orgs[g]
            return self._job()
        if p == "/v2/spaces" and m == "GET":
            f = dict(x.split(":", 1) for x in q)
            return self._coll([s for s in self.spaces.values() if s["entity"]["name"] == f["name"]
                               and s["entity"]["organization_guid"] == f["organization_guid"]])
        if p == "/v2/spaces" and m == "POST":
            g = str(uuid.uuid4())
            self.spaces[g] = res(g, f"/v2/spaces/{g}", **body)
            return self._json(self.spaces[g], 201)
        if p == "/v2/shared_domains":
            return self._coll([res("dom-1", "/v2/shared_domains/dom-1", name="bosh-lite.com")])
        if p == "/v2/apps" and m == "POST":
            g = str(uuid.uuid4())
            self.apps[g] = res(g, f"/v2/apps/{g}", state="STOPPED", package_state="PENDING", **body)
            return self._json(self.apps[g], 201)
        if p == "/v2/routes" and m == "POST":
            g = str(uuid.uuid4())
            self.routes[g] = res(g, f"/v2/routes/{g}", domain_url="/v2/shared_domains/dom-1", path="", **body)
            return self._json(self.routes[g], 201)
        if p.startswith("/v2/shared_domains/"):
            return self._json(res("dom-1", p, name="bosh-lite.com"))
        parts = p.split("/")
        if len(parts) >= 4 and parts[2] == "apps":
            g = parts[3]
            app = self.apps.get(g)
            if app is None:
                return err(404, 100004, "CF-AppNotFound", f"The app could not be found: {g}")
            ent = app["entity"]
            rest = parts[4:]
            if rest[:1] == ["routes"] and m == "PUT":
                self.mappings.add((g, rest[1]))
                return self._json(app, 201)
            if rest == ["routes"]:
                return self._coll([self.routes[r] for a, r in sorted(self.mappings) if a == g])
            if rest == ["bits"] and m == "PUT":
                if "resources" not in req.form or "application" not in req.files:
                    return err(400, 160001, "CF-AppBitsUploadInvalid", "missing :resources")
                self.bits[g] = req.files["application"].read()
                return self._job(polls=2)
            if rest == ["instances"]:
                if ent["state"] != "STARTED":
                    return err(400, 220001, "CF-InstancesError", "stopped")
                if ent["package_state"] != "STAGED":
                    return err(400, 170002, "CF-NotStaged", "App has not finished staging")
                ent["_running_polls"] = ent.get("_running_polls", self.running_polls) - 1
                st = "RUNNING" if ent["_running_polls"] <= 0 else "STARTING"
                return self._json({str(i): {"state": st, "since": 1.0} for i in range(ent["instances"])})
            if rest == ["stats"]:
                if ent["state"] != "STARTED":
                    return err(400, 200003, "CF-AppStoppedStatsError", "stopped")
                return self._json({str(i): {"state": "RUNNING", "stats": {"host": "10.244.16.2", "port": 61000 + i,
                                                                          "uris": ["x.bosh-lite.com"]}}
                                   for i in range(ent["instances"])})
            if not rest and m == "PUT":
                if body.get("state") == "STARTED" and g not in self.bits:
                    return err(400, 150001, "CF-AppPackageInvalid", "bits have not been uploaded")
                ent.update(body)
                return self._json(app, 201)
            if not rest and m == "GET":
                if ent["state"] == "STARTED" and self.fail_staging:
                    ent.update(package_state="FAILED", staging_failed_reason="BuildpackCompileFailed",
                               staging_failed_description="App staging failed in the buildpack compile phase")
                if ent["state"] == "STARTED" and ent["package_state"] == "PENDING":
                    ent["_staging_polls"] = ent.get("_staging_polls", self.staging_polls) - 1
                    if ent["_staging_polls"] <= 0:
                        ent["package_state"] = "STAGED"
                return self._json(app)
            if not rest and m == "DELETE":
                del self.apps[g]
                return Response(status=204)
        if p.startswith("/v2/routes/") and m == "DELETE":
            self.routes.pop(parts[3], None)
            return Response(status=204)
        if p.startswith("/v2/jobs/"):
            g = parts[3]
            self.jobs[g] -= 1
            status = "finished" if self.jobs[g] <= 0 else "running"
            return self._json({"metadata": {"guid": g, "url": p}, "entity": {"guid": g, "status": status}})
        if p == "/v2/events":
            return self._coll([res("e1", "/v2/events/e1", type="audit.app.ssh-authorized", timestamp="t",
                                   metadata={"index": 0})])
        return err(404, 10000, "CF-NotFound", "Unknown request")

    def _job(self, polls: int = 1) -> Response:
        g = str(uuid.uuid4())
        self.jobs[g] = polls
        return self._json({"metadata": {"guid": g, "url": f"/v2/jobs/{g}"}, "entity": {"guid": g, "status": "queued"}},
                          202 if polls == 1 else 201)


@pytest.fixture
def cf_env(serve, pki):
    fake = FakeCC()
    srv = serve(fake)
    cfg = CfConfig(api=API, apps_domain="bosh-lite.com", admin_user="admin", admin_password="cf-admin-pw",
                   ca_cert=pki.ca_pem)
    cf = CloudFoundry(cfg, Resolver({"*.bosh-lite.com:443": srv.address}, loopback_only=True), poll_interval=0.01)
    return cf, fake


def test_login_and_ensure_org_space_is_idempotent(cf_env):
    cf, fake = cf_env
    cf.login()
    assert fake.grants == ["password"]
    org, space = cf.ensure_org_space("acc-org", "acc-space")
    assert cf.ensure_org_space("acc-org", "acc-space") == (org, space)
    assert len(fake.orgs) == 1 and len(fake.spaces) == 1
    assert fake.spaces[space]["entity"]["allow_ssh"] is True


def test_bad_credentials(cf_env, serve, pki):
    cf, _fake = cf_env
    bad = CloudFoundry(CfConfig(api=API, admin_user="admin", admin_password="not-the-pw", ca_cert=pki.ca_pem),
                       cf.session.adapters["https://"].resolver)
    with pytest.raises(CFError) as ei:
        bad.login()
    assert ei.value.http_status == 401 and "credentials were rejected" in str(ei.value)
    assert "not-the-pw" not in str(ei.value)


def test_push_flow(cf_env, tmp_path):
    cf, fake = cf_env
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "Procfile").write_text("web: python app.py\n")
    _, space = cf.ensure_org_space("o", "s")
    app = cf.push("probe-1", tmp_path, space, instances=2, memory=64)
    ent = fake.apps[app.guid]["entity"]
    assert ent["diego"] is True and ent["enable_ssh"] is True and ent["instances"] == 2 and ent["memory"] == 64
    assert ent["state"] == "STARTED" and ent["package_state"] == "STAGED"
    assert (app.guid, app.route_guid) in fake.mappings
    assert fake.routes[app.route_guid]["entity"]["host"] == "probe-1"
    names = zipfile.ZipFile(io.BytesIO(fake.bits[app.guid])).namelist()
    assert sorted(names) == ["Procfile", "app.py"]
    assert cf.app_url(app) == "http://probe-1.bosh-lite.com"
    assert any(p.startswith("/v2/jobs/") for _, p, _ in fake.log)
    assert {i: s.state for i, s in cf.instances(app.guid).items()} == {0: "RUNNING", 1: "RUNNING"}
    stats = cf.stats(app.guid)
    assert (stats[1].host, stats[1].port) == ("10.244.16.2", 61001)
    assert cf.routes(app.guid)[0]["domain"] == "bosh-lite.com"


def test_refresh_on_1000_only(cf_env):
    cf, fake = cf_env
    cf.login()
    fake.valid_tokens.clear()  # every token expires
    _org, _ = cf.ensure_org_space("o", "s")
    assert fake.grants == ["password", "refresh_token"]
    fake.reject_10002 = True  # a 401 that is not "token expired" must not trigger a refresh
    with pytest.raises(CFError) as ei:
        cf.find_org("o")
    assert (ei.value.code, ei.value.http_status) == (10002, 401)
    assert fake.grants == ["password", "refresh_token"]


def test_instances_not_yet_and_wait_running_timeout_message(cf_env, tmp_path):
    cf, fake = cf_env
    _, space = cf.ensure_org_space("o", "s")
    app = cf.request("POST", "/v2/apps", json={"name": "a", "space_guid": space, "instances": 1}).json()
    guid = app["metadata"]["guid"]
    assert cf.instances(guid) == {}  # stopped: 220001
    fake.bits[guid] = b"x"
    cf.start(guid)
    assert cf.instances(guid) == {}  # not staged: 170002
    fake.running_polls = 10 ** 6
    fake.apps[guid]["entity"]["package_state"] = "STAGED"
    with pytest.raises(CFTimeoutError) as ei:
        cf.wait_running(guid, 1, timeout=0.2)
    assert "#0 STARTING" in str(ei.value) and "1 instance(s) RUNNING" in str(ei.value)


def test_cf_error_fields_and_no_token_leak(cf_env):
    cf, _ = cf_env
    with pytest.raises(CFError) as ei:
        cf.app("no-such-guid")
    e = ei.value
    assert (e.code, e.error_code, e.http_status) == (100004, "CF-AppNotFound", 404)
    assert "GET /v2/apps/no-such-guid" in str(e) and "CF-AppNotFound" in str(e)
    assert cf.access_token and cf.access_token not in str(CFError(1, "X", f"echo {cf.access_token}", 400))


def test_ssh_code_from_location_without_following(cf_env):
    cf, fake = cf_env
    assert cf.ssh_code() == "abc123"
    assert not any(p.startswith("/login") for _, p, _ in fake.log)
    endpoint, fp, client = cf.ssh_endpoint()
    assert endpoint == "ssh.bosh-lite.com:2222" and len(fp) == 47 and client == "ssh-proxy"


def test_delete_app_route_org_and_events(cf_env, tmp_path):
    cf, fake = cf_env
    (tmp_path / "f").write_text("x")
    org, space = cf.ensure_org_space("o", "s")
    app = cf.push("gone", tmp_path, space)
    assert cf.events(app.guid)[0]["type"] == "audit.app.ssh-authorized"
    assert cf.delete_app(app.guid) is True
    assert cf.delete_app(app.guid) is False
    deletes = [p for m, p, _ in fake.log if m == "DELETE"]
    assert f"/v2/apps/{app.guid}?recursive=true&async=true" in deletes
    assert cf.delete_route(app.route_guid) is True and app.route_guid not in fake.routes
    assert cf.delete_org(org) is True and not fake.orgs


def test_staging_failure_names_reason_and_hands_back_the_app(cf_env, tmp_path):
    cf, fake = cf_env
    (tmp_path / "f").write_text("x")
    _, space = cf.ensure_org_space("o", "s")
    fake.fail_staging = True
    with pytest.raises(CFError) as ei:
        cf.push("broken", tmp_path, space)
    assert ei.value.error_code == "BuildpackCompileFailed"
    assert "buildpack compile phase" in str(ei.value)
    assert ei.value.app.guid in fake.apps  # the caller can delete what push created
