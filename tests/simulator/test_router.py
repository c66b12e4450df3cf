"""Router front: HAProxy/gorouter status codes, routing headers, retries, TTL, system hosts."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from fakes import FakeCC

from manifests import secrets
from simulator.router import Router, RouteTag, attach
from simulator.world import World
from tests.world_doubles import BusDirector, RecordingLogs, make_world

HOST = "probe.bosh-lite.com"


class Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/headers":
            body = json.dumps(dict(self.headers.items())).encode()
        else:
            body = f"{self.server.name} {self.headers.get('X-Forwarded-Proto')}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _backend(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    server.daemon_threads = True
    server.name = name  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server



@pytest.fixture(scope="module")
def haproxy_secrets() -> dict:
    """A generated HAProxy CA and `ha_proxy.ssl_pem` for *.bosh-lite.com."""
    return secrets.complete({}, "bosh-lite.com")[0]


@pytest.fixture
def env(tmp_path: Path, haproxy_secrets: dict) -> Iterator[tuple[World, BusDirector, Router]]:
    world = make_world(tmp_path, router_ttl=0.6)
    world.components["logs"] = RecordingLogs()
    world.components["cc"] = FakeCC()
    director = BusDirector(world)
    director.add("cf-warden", "ha_proxy_z1", ["haproxy"],
                 properties={"ha_proxy": {"ssl_pem": haproxy_secrets["ha_proxy_ssl_pem"]}})
    director.add("cf-warden", "router_z1", ["gorouter"])
    director.add("cf-warden", "api_z1", ["cloud_controller_ng"])
    attach(world)
    router: Router = world.components["router"]
    yield world, director, router
    router.close()


def _url(world: World, path: str = "/", host: str = HOST, port: int = 80) -> str:
    bound = world.published[f"*.bosh-lite.com:{port}"]
    return f"http://{bound}{path}" if port == 80 else f"https://{bound}{path}"


def _get(world: World, path: str = "/", host: str = HOST, **kw: object) -> requests.Response:
    headers = {"Host": host, **kw.pop("headers", {})}  # type: ignore[dict-item]
    return requests.get(_url(world, path), headers=headers, timeout=3, **kw)  # type: ignore[arg-type]


def _tag(index: int = 0, guid: str = "app-guid") -> RouteTag:
    return RouteTag(guid, "probe", index, f"inst-{index}")


def test_unknown_route_is_404_with_router_error(env) -> None:
    world, _, _ = env
    resp = _get(world, host="nobody.bosh-lite.com")
    assert resp.status_code == 404
    assert resp.headers["X-Cf-Routererror"] == "unknown_route"


def test_round_robin_and_rtr_logs(env) -> None:
    world, _, router = env
    a, b = _backend("a"), _backend("b")
    try:
        router.register(HOST, a.server_address[:2], _tag(0), ("10.244.16.2", 61000))
        router.register(HOST, b.server_address[:2], _tag(1))
        seen = [_get(world).headers["X-Backend"] for _ in range(4)]
        assert sorted(seen) == ["a", "a", "b", "b"]
        assert all(seen[i] != seen[i + 1] for i in range(3))
        rtr = [line for line in world.components["logs"].lines if line[1] == "RTR"]
        assert len(rtr) == 4 and rtr[0][0] == "app-guid"
        assert any('"10.244.16.2:61000"' in line[3] for line in rtr)
    finally:
        a.shutdown()
        b.shutdown()


def test_x_cf_app_instance_is_ignored_the_era_router_round_robins(env) -> None:
    world, _, router = env
    a, b = _backend("a"), _backend("b")
    try:
        router.register(HOST, a.server_address[:2], _tag(0))
        router.register(HOST, b.server_address[:2], _tag(1))
        seen = [_get(world, headers={"X-CF-APP-INSTANCE": "app-guid:1"}) for _ in range(4)]
        assert [r.status_code for r in seen] == [200] * 4
        assert sorted(r.headers["X-Backend"] for r in seen) == ["a", "a", "b", "b"]
        garbage = _get(world, headers={"X-CF-APP-INSTANCE": "garbage"})
        assert garbage.status_code == 200 and "X-Cf-Routererror" not in garbage.headers
    finally:
        a.shutdown()
        b.shutdown()


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_headers_to_the_backend_and_none_of_the_routers_to_the_client(env) -> None:
    world, _, router = env
    a = _backend("a")
    try:
        router.register(HOST, a.server_address[:2], _tag(0), ("10.244.16.2", 61000))
        resp = _get(world, "/headers", headers={"X-Vcap-Request-Id": "client-chosen",
                                                "X-Forwarded-For": "1.2.3.4", "X-Request-Start": "17"})
        seen = resp.json()
        assert re.fullmatch(UUID, seen["X-Vcap-Request-Id"])  # the router's own, replacing the client's
        assert seen["X-Forwarded-For"] == "1.2.3.4, 127.0.0.1"
        assert seen["X-Forwarded-Proto"] == "http"
        assert seen["X-Request-Start"] == "17"  # kept when present
        assert seen["X-CF-ApplicationID"] == "app-guid"
        assert seen["X-CF-InstanceID"] == "inst-0"
        assert "X-CF-InstanceIndex" not in seen
        assert not [h for h in resp.headers if h.lower() in ("x-vcap-request-id", "x-vcap-router", "x-vcap-backend",
                                                              "x-cf-routeendpoint")]
        fresh = _get(world, "/headers").json()
        assert fresh["X-Request-Start"].isdigit() and fresh["X-Forwarded-For"] == "127.0.0.1"
    finally:
        a.shutdown()


def test_trace_headers_only_with_the_trace_key(env) -> None:
    world, _, router = env
    a = _backend("a")
    try:
        router.register(HOST, a.server_address[:2], _tag(0), ("10.244.16.2", 61000))
        assert "X-Vcap-Backend" not in _get(world, headers={"X-Vcap-Trace": "wrong"}).headers
        traced = _get(world, headers={"X-Vcap-Trace": "22"}).headers  # cf-release's default trace key
        assert traced["X-Vcap-Backend"] == traced["X-Cf-RouteEndpoint"] == "10.244.16.2:61000"
        assert traced["X-Vcap-Router"].startswith("10.244.")
        api = _get(world, "/v2/info", host="api.bosh-lite.com", headers={"X-Vcap-Trace": "22"}).headers
        assert api["X-Vcap-Backend"].endswith(":9022")
    finally:
        a.shutdown()


def test_unknown_route_body_names_the_host_as_sent_and_heartbeat(env) -> None:
    world, _, _ = env
    resp = _get(world, host="nobody.bosh-lite.com:4443")
    assert resp.status_code == 404
    assert resp.text == "404 Not Found: Requested route ('nobody.bosh-lite.com:4443') does not exist.\n"
    assert resp.headers["X-Cf-Routererror"] == "unknown_route"
    beat = _get(world, host="anything", headers={"User-Agent": "HTTP-Monitor/1.1"})
    assert (beat.status_code, beat.text) == (200, "ok\n")
    log_cache = _get(world, "/api/v1/info", host="log-cache.bosh-lite.com")
    assert (log_cache.status_code, log_cache.headers["X-Cf-Routererror"]) == (404, "unknown_route")


class EchoUpgrade(BaseHTTPRequestHandler):
    """A backend that accepts a websocket handshake (RFC 6455 §4.2.2) and then echoes raw bytes."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.send_header("X-Seen-Request-Id", self.headers.get("X-Vcap-Request-Id", ""))
        self.end_headers()
        self.wfile.flush()
        while data := self.connection.recv(100):
            self.connection.sendall(data.upper())

    def log_message(self, *args: object) -> None:
        pass


def _upgrade(sock: socket.socket, host: str) -> bytes:
    sock.sendall(f"GET /stream HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return head


def test_websocket_upgrade_is_relayed_on_80_and_through_the_tls_tcp_front_on_4443(env, haproxy_secrets) -> None:
    world, _, router = env
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoUpgrade)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        router.register(HOST, server.server_address[:2], _tag(0))
        plain = socket.create_connection(_addr(world, 80), timeout=5)
        head = _upgrade(plain, HOST)
        assert head.startswith(b"HTTP/1.1 101")
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 §1.3 example
        assert re.search(rb"X-Seen-Request-Id: " + UUID.encode(), head)
        plain.sendall(b"ping")
        assert plain.recv(10) == b"PING"
        plain.close()

        # :4443 presents the deployed ha_proxy.ssl_pem, as :443 does
        ctx = ssl.create_default_context(cadata=haproxy_secrets["ha_proxy_ca_cert"])
        raw = socket.create_connection(_addr(world, 4443), timeout=5)
        tls_sock = ctx.wrap_socket(raw, server_hostname="probe.bosh-lite.com")
        head = _upgrade(tls_sock, f"{HOST}:4443")
        assert head.startswith(b"HTTP/1.1 101")
        tls_sock.sendall(b"abc")
        assert tls_sock.recv(10) == b"ABC"
        tls_sock.close()
    finally:
        server.shutdown()


def _addr(world: World, port: int) -> tuple[str, int]:
    host, _, p = world.published[f"*.bosh-lite.com:{port}"].rpartition(":")
    return host, int(p)


def test_dead_endpoint_is_retried_and_all_dead_is_502(env) -> None:
    world, _, router = env
    a = _backend("a")
    dead = _backend("dead")
    dead_addr = dead.server_address[:2]
    dead.shutdown()
    dead.server_close()
    try:
        router.register(HOST, dead_addr, _tag(1))
        router.register(HOST, a.server_address[:2], _tag(0))
        assert all(_get(world).status_code == 200 for _ in range(6))
        router.unregister(HOST, a.server_address[:2])
        resp = _get(world)
        assert resp.status_code == 502
        assert resp.headers["X-Cf-Routererror"] == "endpoint_failure"
    finally:
        a.shutdown()


def test_routes_expire_after_ttl_without_refresh(env) -> None:
    world, _, router = env
    a = _backend("a")
    try:
        router.register(HOST, a.server_address[:2], _tag(0))
        assert _get(world).status_code == 200
        for _ in range(3):  # refreshed routes stay
            time.sleep(0.3)
            router.register(HOST, a.server_address[:2], _tag(0))
            assert _get(world).status_code == 200
        time.sleep(0.8)
        resp = _get(world)
        assert resp.status_code == 404 and resp.headers["X-Cf-Routererror"] == "unknown_route"
    finally:
        a.shutdown()


def test_gorouter_down_is_503_and_haproxy_down_closes(env) -> None:
    world, director, router = env
    a = _backend("a")
    try:
        router.register(HOST, a.server_address[:2], _tag(0))
        gorouter = next(i for i in director.items if i.has_template("gorouter"))
        director.down(gorouter)
        assert _get(world).status_code == 503
        director.start(gorouter)
        assert _get(world).status_code == 200
        haproxy = next(i for i in director.items if i.has_template("haproxy"))
        director.down(haproxy)
        with pytest.raises(requests.ConnectionError):
            _get(world)
        # a kept-alive connection gets no answer either
        director.start(haproxy)
        with requests.Session() as s:
            assert s.get(_url(world), headers={"Host": HOST}, timeout=3).status_code == 200
            director.down(haproxy)
            with pytest.raises(requests.ConnectionError):
                s.get(_url(world), headers={"Host": HOST}, timeout=3)
        director.start(haproxy)
    finally:
        a.shutdown()


def test_system_hosts_go_to_wsgi_apps_over_https(env, haproxy_secrets) -> None:
    world, director, _ = env
    ctx = ssl.create_default_context(cadata=haproxy_secrets["ha_proxy_ca_cert"])
    bound = world.published["*.bosh-lite.com:443"]
    # connect to the loopback port but verify the certificate against api.bosh-lite.com
    conn = http.client.HTTPSConnection("api.bosh-lite.com", context=ctx, timeout=3)
    host, port = bound.rsplit(":", 1)
    conn.sock = ctx.wrap_socket(socket.create_connection((host, int(port))),
                                server_hostname="api.bosh-lite.com")
    conn.request("GET", "/v2/info?x=1", headers={"Host": "api.bosh-lite.com"})
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["api_version"]
    seen = world.components["cc"].log[-1]  # what reached CC: path, query, host, scheme
    assert (seen.path, seen.headers["Host"], seen.scheme) == ("/v2/info?x=1", "api.bosh-lite.com", "https")
    conn.close()
    api = next(i for i in director.items if i.has_template("cloud_controller_ng"))
    director.down(api)
    resp2 = _get(world, "/v2/info", host="api.bosh-lite.com")
    assert resp2.status_code == 404 and resp2.headers["X-Cf-Routererror"] == "unknown_route"
    # uaa is not attached at all: unknown route as well
    assert _get(world, "/login", host="uaa.bosh-lite.com").status_code == 404


def test_route_outage_fault(env) -> None:
    world, _, router = env
    a = _backend("a")
    try:
        router.register(HOST, a.server_address[:2], _tag(0))
        world.faults.inject("route_outage", "probe", duration=0.5, params={"status": 502})
        resp = _get(world)
        assert resp.status_code == 502 and resp.headers["X-Cf-Routererror"] == "endpoint_failure"
        time.sleep(0.6)
        router.register(HOST, a.server_address[:2], _tag(0))
        assert _get(world).status_code == 200
        world.faults.inject("route_outage", "probe", duration=0.5, params={"status": 404})
        assert _get(world).status_code == 404
    finally:
        a.shutdown()
