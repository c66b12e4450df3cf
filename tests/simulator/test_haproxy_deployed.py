"""Through the simulator's director: what a CF deployment's `ha_proxy.ssl_pem` says is what
`*.bosh-lite.com:443` presents; without it there is no HTTPS; an unusable one fails the
deploy at the haproxy instance (cf-release v220/v231 jobs/haproxy)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.net import pem_certificates
from manifests import secrets
from simulator import launcher
from simulator.client import SimulatorClient
from tests.tls_lookalikes import haproxy_v231

pytestmark = pytest.mark.slow
STEMCELL = "bosh-warden-boshlite-ubuntu-trusty-go_agent"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorClient]:
    """A simulator of its own: the shared one runs other modules' haproxy instances."""
    proc = launcher.start(tmp_path_factory.mktemp("haproxy-deployed"), profile="fast", preload=("v0",))
    try:
        yield SimulatorClient(proc.config())
    finally:
        proc.stop()


def _manifest(client: SimulatorClient, ha_proxy: dict[str, Any] | None) -> dict[str, Any]:
    uuid = client.bosh("GET", "/info").json()["uuid"]
    props: dict[str, Any] = {"system_domain": "bosh-lite.com"}
    if ha_proxy is not None:
        props["ha_proxy"] = ha_proxy
    return {
        "name": "tls-cf", "director_uuid": uuid, "releases": [{"name": "cf", "version": "220"}],
        "networks": [{"name": "net", "subnets": [{
            "range": "10.244.0.32/30", "gateway": "10.244.0.33", "reserved": [],
            "static": ["10.244.0.34"]}]}],
        "resource_pools": [{"name": "small", "network": "net", "stemcell": {"name": STEMCELL, "version": "latest"}}],
        "update": {"canaries": 1, "max_in_flight": 1, "canary_watch_time": 1000, "update_watch_time": 1000},
        "jobs": [{"name": "ha_proxy_z1", "templates": [{"name": "haproxy", "release": "cf"}], "instances": 1,
                  "resource_pool": "small", "networks": [{"name": "net", "static_ips": ["10.244.0.34"]}]}],
        "properties": props,
    }


def _served(client: SimulatorClient) -> str:
    host, port = client.config["resolve"]["*.bosh-lite.com:443"].rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="api.bosh-lite.com", do_handshake_on_connect=False) as conn:
        conn.do_handshake()  # explicit: see tests/simulator/test_haproxy_tls.py
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der)


def test_the_deployed_ssl_pem_is_what_haproxy_presents(client, tmp_path: Path):
    generated = secrets.complete({}, "bosh-lite.com")[0]["ha_proxy_ssl_pem"]
    assert client.deploy(_manifest(client, {"ssl_pem": generated}))["state"] == "done"
    assert _served(client) == pem_certificates(generated)[0]
    era = haproxy_v231()
    assert client.deploy(_manifest(client, {"ssl_pem": era.ssl_pem}))["state"] == "done"
    assert _served(client) == era.cert_pem


def test_without_ssl_pem_the_deployment_has_no_https(client):
    assert client.deploy(_manifest(client, {"ssl_pem": None}))["state"] == "done"
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _served(client)


def test_an_unusable_ssl_pem_fails_the_deploy_at_haproxy(client):
    task = client.deploy(_manifest(client, {"ssl_pem": ""}))
    assert task["state"] == "error"
    assert "ha_proxy_z1" in task["result"] and "is not running after update" in task["result"]
    assert "ha_proxy.ssl_pem unusable" in task["result"]
    failed = [e for e in client.task_events(task["id"]) if e.get("state") == "failed"]
    assert failed and "ha_proxy.ssl_pem unusable" in failed[0]["data"]["error"], failed
