"""Resolver rules, TLS through a resolved loopback address, timeouts, retries, redaction."""

from __future__ import annotations

import logging
import time

import pytest
import requests
import responses
from werkzeug.wrappers import Request, Response

from helpers.net import (
    REDACTOR,
    HelperError,
    RedactingFilter,
    Resolver,
    ResolverError,
    TlsSettings,
    http_session,
    parse_resolve_map,
    redact,
)

# ------------------------------------------------------------------ resolver


def test_exact_entry_wins_over_wildcard():
    r = Resolver({"*.bosh-lite.com:443": "127.0.0.1:1000", "api.bosh-lite.com:443": "127.0.0.2:2000"})
    assert r.resolve("api.bosh-lite.com", 443) == ("127.0.0.2", 2000)
    assert r.resolve("uaa.bosh-lite.com", 443) == ("127.0.0.1", 1000)


def test_wildcard_longest_domain_first_and_port_must_match():
    r = Resolver({"*.com:443": "127.0.0.1:1", "*.bosh-lite.com:443": "127.0.0.1:2",
                  "*.apps.bosh-lite.com:443": "127.0.0.1:3"})
    assert r.resolve("x.apps.bosh-lite.com", 443) == ("127.0.0.1", 3)
    assert r.resolve("a.b.bosh-lite.com", 443) == ("127.0.0.1", 2)
    assert r.resolve("example.com", 443) == ("127.0.0.1", 1)
    # the bare domain is not matched by its wildcard, nor another port
    assert r.resolve("bosh-lite.com", 443) == ("127.0.0.1", 1)
    assert r.resolve("api.bosh-lite.com", 80) == ("api.bosh-lite.com", 80)


def test_cidr_translation_keeps_offset_and_port():
    r = Resolver({"10.244.0.0/16": "127.37.0.0/16", "10.244.2.0/24": "127.99.9.0/24"})
    assert r.resolve("10.244.1.7", 6379) == ("127.37.1.7", 6379)
    assert r.resolve("10.244.2.2", 8080) == ("127.99.9.2", 8080)  # more specific first
    assert r.resolve("10.245.0.1", 80) == ("10.245.0.1", 80)


def test_exact_ip_port_entry_beats_cidr():
    r = Resolver({"10.244.0.0/16": "127.37.0.0/16", "10.244.2.2:6379": "127.0.0.1:46379"})
    assert r.resolve("10.244.2.2", 6379) == ("127.0.0.1", 46379)
    assert r.resolve("10.244.2.2", 6380) == ("127.37.2.2", 6380)


def test_parse_reports_every_bad_entry():
    _, problems = parse_resolve_map({
        "nohost": "127.0.0.1:1",
        "a.com:99999": "127.0.0.1:1",
        "b.com:80": "127.0.0.1",
        "10.0.0.0/8": "127.0.0.0/16",
        "*.x.*.com:80": "127.0.0.1:1",
        "ok.com:80": "127.0.0.1:80",
    })
    assert len(problems) == 5
    assert any("same IP version and prefix length" in p for p in problems)
    assert any("out of range" in p for p in problems)


def test_loopback_only_refuses_unmapped_and_non_loopback_targets():
    r = Resolver({"api.x.com:443": "127.0.0.1:1", "db.x.com:5432": "10.0.0.1:5432"}, loopback_only=True)
    assert r.resolve("api.x.com", 443) == ("127.0.0.1", 1)
    assert r.resolve("127.0.0.5", 80) == ("127.0.0.5", 80)
    with pytest.raises(ResolverError, match=r"outside 127\.0\.0\.0/8"):
        r.resolve("db.x.com", 5432)
    with pytest.raises(ResolverError):
        r.resolve("example.com", 443)


# ------------------------------------------------------------------ TLS through the resolver


def _echo_app(environ, start_response):
    req = Request(environ)
    if req.path == "/slow":
        time.sleep(1.0)
    return Response(f"host={req.host}", content_type="text/plain")(environ, start_response)


def test_tls_verifies_original_name_and_keeps_host_header(serve, pki):
    srv = serve(_echo_app)
    resolver = Resolver({"*.bosh-lite.com:443": srv.address})
    s = http_session(TlsSettings(pki.ca_pem), resolver)
    r = s.get("https://api.bosh-lite.com/")
    assert r.status_code == 200
    assert r.text == "host=api.bosh-lite.com"


def test_tls_ip_san_through_resolver(serve, pki):
    srv = serve(_echo_app)
    s = http_session(TlsSettings(pki.ca_pem), Resolver({"192.168.50.4:25555": srv.address}))
    assert s.get("https://192.168.50.4:25555/info").text == "host=192.168.50.4:25555"


def test_tls_fails_with_wrong_ca_and_with_wrong_name(serve, pki):
    srv = serve(_echo_app)
    resolver = Resolver({"*.bosh-lite.com:443": srv.address, "api.example.org:443": srv.address})
    with pytest.raises(requests.exceptions.SSLError):
        http_session(TlsSettings(pki.other_ca_pem), resolver, retries=0).get("https://api.bosh-lite.com/")
    with pytest.raises(requests.exceptions.SSLError):
        http_session(TlsSettings(pki.ca_pem), resolver, retries=0).get("https://api.example.org/")


def test_skip_ssl_validation_accepts_any_certificate(serve, pki):
    srv = serve(_echo_app)
    resolver = Resolver({"api.example.org:443": srv.address})
    s = http_session(TlsSettings(pki.other_ca_pem, skip_ssl_validation=True), resolver)
    assert s.get("https://api.example.org/").text == "host=api.example.org"


def test_plain_http_through_resolver(serve):
    srv = serve(_echo_app, tls=False)
    s = http_session(None, Resolver({"*.bosh-lite.com:80": srv.address}))
    assert s.get("http://app.bosh-lite.com/").text == "host=app.bosh-lite.com"


def test_default_read_timeout_applies(serve, pki):
    srv = serve(_echo_app)
    s = http_session(TlsSettings(pki.ca_pem), Resolver({"*.bosh-lite.com:443": srv.address}), timeout=(2, 0.2))
    with pytest.raises(requests.exceptions.ReadTimeout):
        s.get("https://api.bosh-lite.com/slow")


def test_loopback_only_session_refuses_before_connecting():
    s = http_session(None, Resolver({}, loopback_only=True), retries=0)
    with pytest.raises(ResolverError):
        s.get("http://example.com/")


@responses.activate
def test_get_retried_on_connection_error_post_not():
    url = "http://api.bosh-lite.com/x"
    responses.add(responses.GET, url, body=requests.ConnectionError("refused"))
    responses.add(responses.POST, url, body=requests.ConnectionError("refused"))
    s = http_session(None, Resolver(), retries=2)
    with pytest.raises(requests.ConnectionError):
        s.get(url)
    assert len(responses.calls) == 3
    with pytest.raises(requests.ConnectionError):
        s.post(url)
    assert len(responses.calls) == 4


@responses.activate
def test_read_timeout_not_retried():
    url = "http://api.bosh-lite.com/y"
    responses.add(responses.GET, url, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(requests.exceptions.ReadTimeout):
        http_session(None, Resolver(), retries=2).get(url)
    assert len(responses.calls) == 1


# ------------------------------------------------------------------ redaction


def test_redactor_registered_secrets_and_patterns():
    REDACTOR.register("pa55-word-xyz")
    text = "login pa55-word-xyz failed; Authorization: bearer eyJhbGciOi.abc.def; {\"refresh_token\": \"rt-123\"}"
    out = redact(text)
    assert "pa55-word-xyz" not in out
    assert "eyJhbGciOi" not in out
    assert "rt-123" not in out
    assert "login [REDACTED] failed" in out


def test_helper_error_and_log_lines_are_redacted(caplog):
    REDACTOR.register("top-secret-42")
    assert "top-secret-42" not in str(HelperError("boom top-secret-42"))
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("token %s", "top-secret-42")
    assert "top-secret-42" not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_two_names_behind_one_listener_keep_their_own_host_and_sni(serve, pki):
    srv = serve(_echo_app)
    s = http_session(TlsSettings(pki.ca_pem), Resolver({"*.bosh-lite.com:443": srv.address}))
    assert s.get("https://api.bosh-lite.com/").text == "host=api.bosh-lite.com"
    assert s.get("https://uaa.bosh-lite.com/").text == "host=uaa.bosh-lite.com"
    assert s.get("https://api.bosh-lite.com/").text == "host=api.bosh-lite.com"
    pools = s.adapters["https://"].poolmanager.pools
    assert len(pools.keys()) == 2  # one pool per original name, both to the same loopback port


def test_every_adapter_entry_point_resolves():
    """requests 2.31 calls get_connection(url), later versions the TLS-context variant."""
    s = http_session(TlsSettings(), Resolver({"*.bosh-lite.com:443": "127.0.0.1:4443"}))
    adapter = s.adapters["https://"]
    pool = adapter.get_connection("https://api.bosh-lite.com/v2/info")
    assert (pool.host, pool.port) == ("127.0.0.1", 4443)
    assert pool.conn_kw.get("server_hostname") == "api.bosh-lite.com"
    req = requests.Request("GET", "https://uaa.bosh-lite.com/login").prepare()
    pool2 = adapter.get_connection_with_tls_context(req, True)
    assert (pool2.host, pool2.port) == ("127.0.0.1", 4443) and pool2 is not pool
