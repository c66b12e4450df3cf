"""Director auth: basic, and UAA-style bearer tokens from the director's /oauth/token."""

from __future__ import annotations

import base64

import pytest
from werkzeug.test import Client

from simulator.director.api import DirectorApp
from simulator.director.era import ERA_2015, ERA_CURRENT
from simulator.director.models import Director
from simulator.world import PROFILES, World


@pytest.fixture
def director(tmp_path):
    """A director of today: UAA is its usual identity provider (the 2015 BOSH-Lite's is basic)."""
    d = Director(World(profile=PROFILES["fast"], state_dir=tmp_path), "admin", "s3cret", era=ERA_CURRENT)
    yield d
    d.close()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_uaa_mode_advertises_token_endpoint(director):
    client = Client(DirectorApp(director, "uaa", "https://192.168.50.4:25555"))
    info = client.get("/info").json
    assert info["user_authentication"] == {"type": "uaa", "options": {
        "url": "https://192.168.50.4:25555", "urls": ["https://192.168.50.4:25555"]}}
    basic_info = Client(DirectorApp(director, "basic")).get("/info").json
    assert basic_info["user_authentication"] == {"type": "basic", "options": {}}
    assert Client(DirectorApp(director)).get("/info").json["user_authentication"]["type"] == "uaa"  # the era's


def test_2015_director_defaults_to_basic_and_names_only_the_uaa_url(tmp_path):
    d = Director(World(profile=PROFILES["fast"], state_dir=tmp_path), "admin", "s3cret", era=ERA_2015)
    try:
        assert Client(DirectorApp(d)).get("/info").json["user_authentication"] == {"type": "basic", "options": {}}
        uaa = Client(DirectorApp(d, "uaa", "https://192.168.50.4:25555")).get("/info").json
        assert uaa["user_authentication"] == {"type": "uaa", "options": {"url": "https://192.168.50.4:25555"}}
    finally:
        d.close()


def test_client_credentials_token_authorises(director):
    client = Client(DirectorApp(director, "uaa"))
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic("admin", "s3cret"))
    assert token.status_code == 200
    body = token.json
    assert body["token_type"] == "bearer" and "refresh_token" not in body
    resp = client.get("/deployments", headers={"Authorization": f"bearer {body['access_token']}"})
    assert resp.status_code == 200 and resp.json == []
    assert client.get("/info", headers={"Authorization": f"bearer {body['access_token']}"}).json["user"] == "admin"
    bad = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic("admin", "nope"))
    assert bad.status_code == 401


def test_password_grant_refresh_and_refresh_tokens_are_not_access_tokens(director):
    client = Client(DirectorApp(director, "uaa"))
    body = client.post("/oauth/token", data={"grant_type": "password", "username": "admin", "password": "s3cret"},
                       headers=_basic("bosh_cli", "")).json
    refresh = body["refresh_token"]
    assert client.get("/deployments", headers={"Authorization": f"bearer {refresh}"}).status_code == 401
    renewed = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh},
                          headers=_basic("bosh_cli", ""))
    assert renewed.status_code == 200
    assert client.get("/deployments", headers={"Authorization": f"bearer {renewed.json['access_token']}"}
                      ).status_code == 200


def test_forged_or_garbage_tokens_are_rejected(director):
    client = Client(DirectorApp(director, "uaa"))
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=_basic("admin", "s3cret")).json["access_token"]
    header, body, sig = token.split(".")
    forged = f"{header}.{body}.{sig[:-2]}AA"
    for bad in (forged, "garbage", ""):
        resp = client.get("/deployments", headers={"Authorization": f"bearer {bad}"})
        assert resp.status_code == 401


def test_one_identity_provider_per_director(director):
    """A UAA director reads bearer tokens only, a basic one basic credentials only: the right
    password is refused by the one, a valid token by the other."""
    uaa = Client(DirectorApp(director, "uaa"))
    assert uaa.get("/deployments", headers=_basic("admin", "s3cret")).status_code == 401
    token = uaa.post("/oauth/token", data={"grant_type": "client_credentials"},
                     headers=_basic("admin", "s3cret")).json["access_token"]
    assert uaa.get("/deployments", headers={"Authorization": f"bearer {token}"}).status_code == 200
    basic = Client(DirectorApp(director, "basic"))
    assert basic.get("/deployments", headers=_basic("admin", "s3cret")).status_code == 200
    assert basic.get("/deployments", headers={"Authorization": f"bearer {token}"}).status_code == 401
    assert basic.post("/oauth/token", data={"grant_type": "client_credentials"},
                      headers=_basic("admin", "s3cret")).status_code == 404  # no UAA behind a basic director
