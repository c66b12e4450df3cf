"""CF client against the fake Cloud Controller + UAA (tests/fakes.py) over HTTPS through the resolve map."""

from __future__ import annotations

import io
import zipfile

import pytest
from fakes import FakeCC

from helpers.cf import CFError, CFTimeoutError, CloudFoundry
from helpers.config import CfConfig
from helpers.net import Resolver

API = "https://api.bosh-lite.com"


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
    assert fake.route_table[app.route_guid]["entity"]["host"] == "probe-1"
    names = zipfile.ZipFile(io.BytesIO(fake.bits[app.guid])).namelist()
    assert sorted(names) == ["Procfile", "app.py"]
    assert cf.app_url(app) == "http://probe-1.bosh-lite.com"
    assert any(p.startswith("/v2/jobs/") for _m, p, _h, _s in fake.log)
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
    assert not any(p.startswith("/login") for _m, p, _h, _s in fake.log)
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
    deletes = [p for m, p, _h, _s in fake.log if m == "DELETE"]
    assert f"/v2/apps/{app.guid}?recursive=true&async=true" in deletes
    assert cf.delete_route(app.route_guid) is True and app.route_guid not in fake.route_table
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
