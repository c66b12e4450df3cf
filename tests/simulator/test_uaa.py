"""UAA at the HTTP level (wire-contracts §3): login JSON, grants, codes, expiry."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import pytest
from werkzeug.test import Client

from simulator.cloudcontroller import attach
from simulator.cloudcontroller.tokens import unverified_claims
from simulator.cloudcontroller.uaa import Uaa, user_guid
from tests.simulator.test_cc_fakes import SSH_SECRET, FakeWorld, basic, bearer, make_world, password_token


@pytest.fixture
def fw(tmp_path: Path) -> FakeWorld:
    fake = make_world(tmp_path)
    attach(fake.world)
    return fake


@pytest.fixture
def uaa(fw: FakeWorld) -> Uaa:
    return fw.world.components["uaa"]


@pytest.fixture
def client(uaa: Uaa) -> Client:
    return Client(uaa.wsgi)


def test_login_document_points_at_the_system_domain(client: Client) -> None:
    resp = client.get("/login", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["links"]["uaa"] == "https://uaa.bosh-lite.com"
    assert body["links"]["login"] == "https://login.bosh-lite.com"
    assert body["prompts"]["username"] == ["text", "Email"]
    assert body["prompts"]["password"] == ["password", "Password"]


def test_password_grant_issues_jwt_with_the_claims_consumers_read(client: Client, uaa: Uaa) -> None:
    body = password_token(client)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 599
    claims = uaa.verify(body["access_token"])
    assert claims is not None
    assert claims["user_name"] == "admin"
    assert claims["user_id"] == user_guid("admin")
    assert claims["client_id"] == "cf"
    assert "cloud_controller.admin" in claims["scope"]
    assert isinstance(claims["scope"], list)
    assert claims["exp"] > time.time()
    assert body["jti"] == claims["jti"]
    assert unverified_claims(body["refresh_token"])["jti"].endswith("-r")
    header = body["access_token"].split(".")[0]
    assert header.startswith("eyJ")


def test_bad_password_is_401_bad_credentials(client: Client) -> None:
    resp = client.post("/oauth/token", headers=basic("cf", ""),
                       data={"grant_type": "password", "username": "admin", "password": "nope"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "unauthorized", "error_description": "Bad credentials"}


def test_unknown_client_is_401(client: Client) -> None:
    resp = client.post("/oauth/token", headers=basic("evil", "x"),
                       data={"grant_type": "password", "username": "admin", "password": "admin"})
    assert resp.status_code == 401


def test_missing_grant_type_is_400_invalid_request(client: Client) -> None:
    resp = client.post("/oauth/token", headers=basic("cf", ""), data={"username": "admin"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_request"


def test_unsupported_grant_type(client: Client) -> None:
    resp = client.post("/oauth/token", headers=basic("cf", ""), data={"grant_type": "implicit"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "unsupported_grant_type"


def test_users_come_from_the_deployed_uaa_properties_v231_maps(tmp_path: Path) -> None:
    fake = make_world(tmp_path, users=[{"name": "ops", "password": "s3cret",
                                        "groups": ["cloud_controller.admin"]}])
    attach(fake.world)
    client = Client(fake.world.components["uaa"].wsgi)
    body = password_token(client, "ops", "s3cret")
    claims = fake.world.components["uaa"].verify(body["access_token"])
    assert "cloud_controller.admin" in claims["scope"]
    resp = client.post("/oauth/token", headers=basic("cf", ""),
                       data={"grant_type": "password", "username": "admin", "password": "admin"})
    assert resp.status_code == 401


def test_users_change_with_what_is_running(fw: FakeWorld, client: Client) -> None:
    password_token(client)
    fw.stop("uaa")
    resp = client.post("/oauth/token", headers=basic("cf", ""),
                       data={"grant_type": "password", "username": "admin", "password": "admin"})
    assert resp.status_code == 401


def test_client_credentials_grant_uses_the_client_secret_from_properties(client: Client, uaa: Uaa) -> None:
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "ops",
                                             "client_secret": "ops-secret"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert "refresh_token" not in body
    claims = uaa.verify(body["access_token"])
    assert claims["client_id"] == "ops"
    assert "user_name" not in claims
    assert "cloud_controller.admin" in claims["scope"]
    bad = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "ops",
                                            "client_secret": "wrong"})
    assert bad.status_code == 401


def test_refresh_token_grant_gives_a_new_access_token(client: Client, uaa: Uaa) -> None:
    first = password_token(client)
    resp = client.post("/oauth/token", headers=basic("cf", ""),
                       data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status_code == 200
    second = resp.get_json()
    assert second["access_token"] != first["access_token"]
    assert uaa.verify(second["access_token"])["user_name"] == "admin"


def test_refresh_token_is_not_an_access_token_and_vice_versa(client: Client, uaa: Uaa) -> None:
    first = password_token(client)
    assert uaa.verify(first["refresh_token"]) is None
    resp = client.post("/oauth/token", headers=basic("cf", ""),
                       data={"grant_type": "refresh_token", "refresh_token": first["access_token"]})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_token"
    garbage = client.post("/oauth/token", headers=basic("cf", ""),
                          data={"grant_type": "refresh_token", "refresh_token": "a.b.c"})
    assert garbage.status_code == 401


def test_tampered_token_is_rejected(client: Client, uaa: Uaa) -> None:
    token = password_token(client)["access_token"]
    head, payload, sig = token.split(".")
    assert uaa.verify(f"{head}.{payload}x.{sig}") is None
    assert uaa.verify("not-a-token") is None


def test_short_expiry(tmp_path: Path) -> None:
    fake = make_world(tmp_path)
    attach(fake.world, access_ttl=-1)
    uaa = fake.world.components["uaa"]
    token = password_token(Client(uaa.wsgi))["access_token"]
    assert uaa.verify(token) is None


def test_expire_tokens_fault_invalidates_issued_tokens_only(fw: FakeWorld, client: Client,
                                                             uaa: Uaa) -> None:
    old = password_token(client)
    dev = password_token(client, "dev", "devpass")
    fw.world.faults.inject("expire_tokens", target="admin")
    assert uaa.verify(old["access_token"]) is None
    assert uaa.verify(dev["access_token"]) is not None
    fresh = client.post("/oauth/token", headers=basic("cf", ""),
                        data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert fresh.status_code == 200
    assert uaa.verify(fresh.get_json()["access_token"]) is not None
    fw.world.faults.inject("expire_tokens")
    assert uaa.verify(dev["access_token"]) is None


def _code(client: Client, token: str) -> str:
    resp = client.get("/oauth/authorize?response_type=code&client_id=ssh-proxy", headers=bearer(token))
    assert resp.status_code == 302
    query = urllib.parse.urlparse(resp.headers["Location"]).query
    return urllib.parse.parse_qs(query)["code"][0]


def test_authorize_redirects_with_a_code_that_works_once(client: Client, uaa: Uaa) -> None:
    token = password_token(client)["access_token"]
    code = _code(client, token)
    resp = client.post("/oauth/token", headers=basic("ssh-proxy", SSH_SECRET),
                       data={"grant_type": "authorization_code", "code": code})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "bearer"
    assert uaa.verify(body["access_token"])["user_name"] == "admin"
    again = client.post("/oauth/token", headers=basic("ssh-proxy", SSH_SECRET),
                        data={"grant_type": "authorization_code", "code": code})
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"


def test_authorize_location_uses_the_redirect_uri_and_a_fresh_code_each_time(client: Client) -> None:
    token = password_token(client)["access_token"]
    resp = client.get("/oauth/authorize?response_type=code&client_id=ssh-proxy&grant_type=authorization_code",
                      headers=bearer(token))
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?code=")
    assert _code(client, token) != _code(client, token)


def test_authorize_needs_a_valid_bearer_and_known_client(client: Client) -> None:
    assert client.get("/oauth/authorize?response_type=code&client_id=ssh-proxy").status_code == 401
    assert client.get("/oauth/authorize?response_type=code&client_id=ssh-proxy",
                      headers=bearer("x.y.z")).status_code == 401
    token = password_token(client)["access_token"]
    assert client.get("/oauth/authorize?response_type=code&client_id=nope",
                      headers=bearer(token)).status_code == 400
    assert client.get("/oauth/authorize?response_type=token&client_id=ssh-proxy",
                      headers=bearer(token)).status_code == 400


def test_exchange_code_api_is_single_use_and_checks_the_secret(client: Client, uaa: Uaa) -> None:
    token = password_token(client)["access_token"]
    code = uaa.issue_code(token)
    claims = uaa.exchange_code(code, "ssh-proxy", SSH_SECRET)
    assert claims is not None and claims["user_name"] == "admin"
    assert uaa.verify(claims["access_token"])["user_id"] == claims["user_id"]
    assert uaa.exchange_code(code, "ssh-proxy", SSH_SECRET) is None
    wrong = uaa.issue_code(token)
    assert uaa.exchange_code(wrong, "ssh-proxy", "bad-secret") is None
    assert uaa.exchange_code(wrong, "ssh-proxy", SSH_SECRET) is None  # spent by the failed attempt
    with pytest.raises(PermissionError):
        uaa.issue_code("garbage")


def test_check_token(client: Client) -> None:
    token = password_token(client)["access_token"]
    ok = client.post("/check_token", headers=basic("ssh-proxy", SSH_SECRET), data={"token": token})
    assert ok.status_code == 200
    assert ok.get_json()["user_name"] == "admin"
    bad = client.post("/check_token", headers=basic("ssh-proxy", SSH_SECRET), data={"token": "x"})
    assert bad.status_code == 400


def test_unknown_path_is_404(client: Client) -> None:
    assert client.get("/nope").status_code == 404


def test_token_validity_comes_from_the_deployed_client(tmp_path: Path) -> None:
    fake = make_world(tmp_path)
    fake.instances["uaa"].properties["uaa"]["clients"]["cf"] = {"access-token-validity": 30}
    attach(fake.world)
    uaa = fake.world.components["uaa"]
    body = password_token(Client(uaa.wsgi))
    assert body["expires_in"] == 30
    claims = uaa.verify(body["access_token"])
    assert claims is not None and claims["exp"] - claims["iat"] == 30
    fake.instances["uaa"].properties["uaa"]["clients"]["cf"] = {"access-token-validity": -5}
    assert uaa.verify(password_token(Client(uaa.wsgi))["access_token"]) is None
