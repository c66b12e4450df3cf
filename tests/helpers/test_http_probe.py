"""HTTP probing: the error taxonomy, fresh connections, and the attempt a prober runs."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

from fixtures.localserver import ControllableServer
from helpers.http_probe import (
    FetchResult,
    classify_exception,
    classify_response,
    http_attempt,
    requests_fetch,
    shared_session_fetch,
)
from helpers.samples import Sample

# ------------------------------------------------------------------ taxonomy


@pytest.mark.parametrize("status,headers,body,expected", [
    (200, {}, "abc", None),
    (404, {"X-Cf-Routererror": "unknown_route"}, "", "unknown_route"),
    (502, {"X-Cf-Routererror": "endpoint_failure"}, "", "endpoint_failure"),
    (503, {}, "", "http_503"),
    (500, {}, "", "other_status"),
    (301, {}, "", "other_status"),
])
def test_classify_response(status, headers, body, expected):
    assert classify_response(FetchResult(status, headers, body)) == expected


def test_body_mismatch_when_body_check_fails():
    assert classify_response(FetchResult(200, {}, ""), body_ok=bool) == "body_mismatch"
    assert classify_response(FetchResult(200, {}, "x"), body_ok=bool) is None


def test_classify_plain_socket_exceptions():
    assert classify_exception(socket.gaierror(-2, "Name or service not known")) == "dns"
    assert classify_exception(ConnectionRefusedError(111, "Connection refused")) == "connect_refused"
    assert classify_exception(ssl.SSLCertVerificationError("certificate verify failed")) == "tls"
    assert classify_exception(ConnectionResetError(104, "reset")) == "connect_reset"


def _requests_error(url: str, timeout=(0.5, 0.5)) -> BaseException:
    try:
        requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("expected an error")


def test_classify_requests_connect_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert classify_exception(_requests_error(f"http://127.0.0.1:{port}/")) == "connect_refused"


def test_classify_requests_read_timeout_and_reset():
    srv = ControllableServer().start()
    try:
        srv.mode = "hang"
        assert classify_exception(_requests_error(srv.url, (0.5, 0.2))) == "read_timeout"
        srv.release.set()
        srv.mode = "close"
        assert classify_exception(_requests_error(srv.url)) == "connect_reset"
    finally:
        srv.close()


def test_classify_requests_tls_error():
    srv = ControllableServer().start()  # plain HTTP spoken to a TLS client
    try:
        assert classify_exception(_requests_error(srv.url.replace("http:", "https:"))) == "tls"
    finally:
        srv.close()


def test_classify_requests_connect_timeout():
    exc = requests.exceptions.ConnectTimeout("Connection to 127.0.0.1 timed out. (connect timeout=1)")
    assert classify_exception(exc) == "connect_timeout"


def test_classify_requests_dns():
    exc = requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='nope.invalid', port=80): Failed to resolve 'nope.invalid'")
    assert classify_exception(exc) == "dns"



@pytest.fixture
def server():
    srv = ControllableServer(body="guid-0").start()
    yield srv
    srv.close()


@pytest.mark.parametrize("make", ["shared", "per_request"])
def test_every_request_uses_a_fresh_connection(server, make):
    session = requests.Session()
    fetch = shared_session_fetch(session) if make == "shared" else requests_fetch(requests.Session)
    for _ in range(5):
        assert fetch(server.url, 1.0, 1.0).status == 200
    assert len(server.client_ports) == 5



def test_http_attempt_fills_the_sample(server):
    attempt = http_attempt(server.url, requests_fetch(requests.Session), 0.5, 0.5)
    ok = Sample(0, 0.0, 0.0)
    attempt(ok)
    assert ok.ok and ok.status == 200 and ok.instance == "guid-0"
    server.mode = "502"
    bad = Sample(1, 0.0, 0.0)
    attempt(bad)
    assert bad.error == "endpoint_failure" and bad.router_error == "endpoint_failure" and bad.status == 502
    assert bad.detail.startswith("502")


def test_http_attempt_classifies_a_refused_connection():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sample = Sample(0, 0.0, 0.0)
    http_attempt(f"http://127.0.0.1:{port}/id", requests_fetch(requests.Session))(sample)
    assert sample.error == "connect_refused" and "ConnectionError" in sample.detail
