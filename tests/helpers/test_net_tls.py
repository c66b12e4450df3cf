"""The suite's TLS options against servers presenting the era's certificate shapes (with fresh
keys: tests/tls_lookalikes.py), and the one message a failure gives: the endpoint, what was
seen, and the config key that accepts it, or that no key may."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from helpers.net import Resolver, TlsSettings, TlsVerificationError, http_session, make_ssl_context
from simulator.server import WsgiListener, start_wsgi_listener
from simulator.tls import era_server_context
from tests.tls_lookalikes import LookAlike, haproxy_v220, haproxy_v231

API = "https://api.bosh-lite.com"


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["HTTP_HOST"].encode()]


@pytest.fixture(scope="module")
def v231() -> LookAlike:
    return haproxy_v231()


@pytest.fixture(scope="module")
def v220() -> LookAlike:
    return haproxy_v220()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[LookAlike], Resolver]]:
    """serve(look_alike) -> a resolver sending *.bosh-lite.com:443 to an era HAProxy-like
    server presenting it (TLS 1.0-1.2, security level 0, v231 default ciphers)."""
    listeners: list[WsgiListener] = []

    def start(look: LookAlike) -> Resolver:
        cert, key = look.write(tmp_path, f"cert{len(listeners)}")
        ctx = era_server_context(cert, key, "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA256:AES128-SHA")
        listener = start_wsgi_listener(_app, ctx, name="era-tls")
        listeners.append(listener)
        return Resolver({"*.bosh-lite.com:443": f"127.0.0.1:{listener.address[1]}",
                         "bosh-lite.com:443": f"127.0.0.1:{listener.address[1]}",
                         "api.example.com:443": f"127.0.0.1:{listener.address[1]}"})

    yield start
    for listener in listeners:
        listener.close()


def _get(tls: TlsSettings, resolver: Resolver, url: str = API) -> str:
    return http_session(tls, resolver, retries=0).get(url + "/v2/info").text


def _failure(tls: TlsSettings, resolver: Resolver, url: str = API) -> str:
    with pytest.raises(TlsVerificationError) as err:
        _get(tls, resolver, url)
    return str(err.value)


def test_a_certificate_without_san_is_refused_by_default_even_if_its_cn_matches(serve, v231):
    """The stdlib alone falls back to the CN; the suite does not unless told (urllib3 2 and
    browsers do not either)."""
    resolver = serve(v231)
    message = _failure(TlsSettings(v231.cert_pem, section="cf"), resolver)
    assert "the CF at https://api.bosh-lite.com" in message
    assert "it has no subjectAltName (only CN=*.bosh-lite.com)" in message
    assert "cf.tls_hostname_from_cn: true" in message
    assert "skip_ssl_validation" not in message
    # what the option changes: Python's own default context would have accepted it silently
    stdlib = ssl.create_default_context(cadata=v231.cert_pem)
    host, port = resolver.resolve("api.bosh-lite.com", 443)
    with socket.create_connection((host, port), timeout=5) as raw, \
            stdlib.wrap_socket(raw, server_hostname="api.bosh-lite.com") as conn:
        assert conn.version() == "TLSv1.2"


def test_tls_hostname_from_cn_accepts_the_v231_certificate_for_its_names_only(serve, v231):
    resolver = serve(v231)
    tls = TlsSettings(v231.cert_pem, hostname_from_cn=True, section="cf")
    assert _get(tls, resolver) == "api.bosh-lite.com"
    assert _get(tls, resolver, "https://uaa.bosh-lite.com") == "uaa.bosh-lite.com"
    for url, host in (("https://bosh-lite.com", "bosh-lite.com"), ("https://api.example.com", "api.example.com")):
        message = _failure(tls, resolver, url)
        assert f"its CN (*.bosh-lite.com) does not name {host}" in message
        assert "No TLS option may accept" in message


def test_without_a_ca_the_self_signed_v231_certificate_names_both_keys(serve, v231):
    message = _failure(TlsSettings(section="cf"), serve(v231))
    assert "it is self-signed and not in the system trust store (cf.ca_cert is not set)" in message
    assert "cf.ca_cert: this certificate" in message and "cf.tls_hostname_from_cn: true" in message


def test_the_expired_v220_certificate_is_refused_whatever_the_options(serve, v220):
    resolver = serve(v220)
    for tls in (TlsSettings(v220.cert_pem, section="cf"),
                TlsSettings(v220.cert_pem, allow_sha1=True, hostname_from_cn=True, section="cf")):
        message = _failure(tls, resolver)
        assert "it expired on 2024-12-21" in message
        assert "its CN (*.10.244.0.34.xip.io) does not name api.bosh-lite.com" in message
        assert "No TLS option may accept an expired certificate" in message
        assert "cf.skip_ssl_validation: true (no verification at all)" in message
    assert _get(TlsSettings(skip_ssl_validation=True, section="cf"), resolver) == "api.bosh-lite.com"


def _ca_and_leaf(tmp_path: Path, sans: list[str], cn: str, sha1: bool = False) -> tuple[str, LookAlike]:
    from simulator.tls import sign_sha1

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test HAProxy CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
               .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    leaf = sign_sha1(builder, ca_key) if sha1 else builder.sign(ca_key, hashes.SHA256())
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return pem(ca), LookAlike(pem(leaf), key_pem)


def test_tls_hostname_from_cn_never_overrides_a_subject_alt_name(serve, tmp_path):
    """An attacker's certificate for another name with the wanted CN is still refused."""
    ca, leaf = _ca_and_leaf(tmp_path, ["evil.example.com"], "api.bosh-lite.com")
    message = _failure(TlsSettings(ca, hostname_from_cn=True, section="cf"), serve(leaf))
    assert "it names evil.example.com, not api.bosh-lite.com" in message


def test_tls_allow_sha1_accepts_a_sha1_leaf_of_the_pinned_ca_only(serve, tmp_path):
    ca, leaf = _ca_and_leaf(tmp_path, ["*.bosh-lite.com"], "*.bosh-lite.com", sha1=True)
    resolver = serve(leaf)
    message = _failure(TlsSettings(ca, section="cf"), resolver)
    assert "signed with SHA-1" in message and "cf.tls_allow_sha1: true" in message
    assert _get(TlsSettings(ca, allow_sha1=True, section="cf"), resolver) == "api.bosh-lite.com"
    other_ca, _ = _ca_and_leaf(tmp_path, [], "unused")
    message = _failure(TlsSettings(other_ca, allow_sha1=True, section="cf"), resolver)
    assert "did not sign it" in message or "which is not in cf.ca_cert" in message


def test_tls_allow_sha1_is_ignored_without_a_ca_of_the_users():
    """SHA-1 is only ever accepted in a chain ending at a CA the config names: with the system
    store the security level stays at its default (config validation also refuses it)."""
    ctx = make_ssl_context(TlsSettings(None, allow_sha1=True))
    assert "@SECLEVEL=0" not in str(ctx.get_ciphers())
    assert all(c["name"] != "AES128-SHA" for c in ctx.get_ciphers())
    pinned = make_ssl_context(TlsSettings(haproxy_v231().cert_pem, allow_sha1=True))
    assert pinned.minimum_version == ssl.TLSVersion.TLSv1_2
    assert not any(c["name"].startswith("DHE-") for c in pinned.get_ciphers())


def test_a_pinned_server_certificate_is_a_trust_anchor(serve, tmp_path):
    """cf.ca_cert may be the deployed certificate itself (partial chain), not only its CA: how
    the suite trusts exactly the `ha_proxy.ssl_pem` it deploys."""
    _ca, leaf = _ca_and_leaf(tmp_path, ["*.bosh-lite.com"], "*.bosh-lite.com")
    assert _get(TlsSettings(leaf.cert_pem, section="cf"), serve(leaf)) == "api.bosh-lite.com"


def test_a_tls_socket_for_non_http_clients_verifies_and_explains_the_same_way(serve, v231):
    from helpers.net import tls_connection

    resolver = serve(v231)
    with pytest.raises(TlsVerificationError) as err:
        tls_connection(TlsSettings(v231.cert_pem, section="cf"), "doppler.bosh-lite.com", 443, resolver)
    assert "the CF at https://doppler.bosh-lite.com:443" in str(err.value)
    assert "cf.tls_hostname_from_cn: true" in str(err.value)
    with tls_connection(TlsSettings(v231.cert_pem, hostname_from_cn=True, section="cf"),
                        "doppler.bosh-lite.com", 443, resolver) as conn:
        assert conn.version() == "TLSv1.2"
