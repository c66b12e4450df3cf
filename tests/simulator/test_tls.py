"""The director's TLS as a 2015 BOSH-Lite served it (simulator/tls.py), read from live
handshakes: the certificate's shape, who refuses it, who accepts it, and what it offers."""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from helpers.net import Resolver, TlsSettings, TlsVerificationError, http_session
from simulator import tls
from simulator.server import WsgiListener, start_wsgi_listener

DIRECTOR = "192.168.50.4"


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"director"]


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> tls.TlsMaterial:
    return tls.generate(tmp_path_factory.mktemp("director-tls"))


@pytest.fixture(scope="module")
def director(material: tls.TlsMaterial) -> Iterator[WsgiListener]:
    listener = start_wsgi_listener(_app, material.director_context(), name="director-tls")
    yield listener
    listener.close()


def _client(**kw: object) -> ssl.SSLContext:
    """A client context that verifies nothing (for reading what is served) unless told."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(str(kw.pop("ciphers", "ALL:@SECLEVEL=0")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for attr, value in kw.items():
            setattr(ctx, attr, value)
    return ctx


def _handshake(listener: WsgiListener, ctx: ssl.SSLContext, name: str | None = DIRECTOR) -> ssl.SSLSocket:
    raw = socket.create_connection(listener.address, timeout=5)
    try:
        return ctx.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise


def _served(listener: WsgiListener) -> x509.Certificate:
    with _handshake(listener, _client()) as conn:
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_director_presents_a_sha1_leaf_for_its_ip_issued_by_a_generated_ca(director, material):
    leaf = _served(director)
    ca = x509.load_pem_x509_certificate(material.ca_pem.encode())
    assert leaf.version == x509.Version.v3
    assert leaf.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA1
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA1)
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey) and leaf.public_key().key_size == 2048
    assert leaf.subject.rfc4514_string() == "CN=192.168.50.4,O=BOSH,C=US"
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [DIRECTOR]
    assert san.get_values_for_type(x509.DNSName) == []
    assert leaf.issuer != leaf.subject and leaf.issuer == ca.subject
    assert ca.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Internet Widgits Pty Ltd"
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA1)
    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    ca_key.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())


def test_keys_are_generated_per_run_and_private(material, tmp_path):
    other = tls.generate(tmp_path)
    assert other.ca_pem != material.ca_pem
    assert other.director_cert.read_text() != material.director_cert.read_text()
    for key in (material.director_key, other.director_key):
        assert key.stat().st_mode & 0o077 == 0


def test_a_default_openssl3_client_refuses_the_director_even_with_its_ca(director, material):
    ctx = ssl.create_default_context(cadata=material.ca_pem)
    with pytest.raises(ssl.SSLCertVerificationError) as err:
        _handshake(director, ctx)
    assert err.value.verify_message == "CA signature digest algorithm too weak"


def test_the_suites_client_accepts_it_with_tls_allow_sha1_and_names_the_key_without(director, material):
    resolver = Resolver({f"{DIRECTOR}:25555": f"127.0.0.1:{director.address[1]}"})
    url = f"https://{DIRECTOR}:25555/info"
    allowed = http_session(TlsSettings(material.ca_pem, allow_sha1=True, section="bosh"), resolver, retries=0)
    assert allowed.get(url).text == "director"
    with pytest.raises(TlsVerificationError) as err:
        http_session(TlsSettings(material.ca_pem, section="bosh"), resolver, retries=0).get(url)
    text = str(err.value)
    assert "BOSH director at https://192.168.50.4:25555" in text
    assert "signed with SHA-1 (sha1WithRSAEncryption)" in text
    assert "bosh.tls_allow_sha1: true" in text


def test_tls_allow_sha1_still_refuses_another_ca_and_another_name(director, material, tmp_path):
    """The option lowers the digest check, nothing else: a certificate from another CA (with
    the very same names) and a host name the certificate does not carry are refused."""
    impostor = tls.generate(tmp_path)  # same CA and leaf names, other keys
    resolver = Resolver({f"{DIRECTOR}:25555": f"127.0.0.1:{director.address[1]}",
                         "192.168.50.5:25555": f"127.0.0.1:{director.address[1]}",
                         "director.bosh-lite.com:25555": f"127.0.0.1:{director.address[1]}"})
    with pytest.raises(TlsVerificationError) as err:
        http_session(TlsSettings(impostor.ca_pem, allow_sha1=True, section="bosh"), resolver,
                     retries=0).get(f"https://{DIRECTOR}:25555/info")
    assert "the CA of that name in bosh.ca_cert did not sign it" in str(err.value)
    trusting = http_session(TlsSettings(material.ca_pem, allow_sha1=True, section="bosh"), resolver, retries=0)
    for host in ("192.168.50.5", "director.bosh-lite.com"):
        with pytest.raises(TlsVerificationError) as err:
            trusting.get(f"https://{host}:25555/info")
        assert f"it names 192.168.50.4, not {host}" in str(err.value)
        assert "No TLS option may accept" in str(err.value)


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1", "TLSv1_2"])
def test_director_speaks_tls_1_0_to_1_2(director, version):
    v = getattr(ssl.TLSVersion, version)
    with _handshake(director, _client(minimum_version=v, maximum_version=v)) as conn:
        assert conn.version() == version.replace("_", ".")


def test_director_does_not_offer_tls_1_3(director):
    with pytest.raises(ssl.SSLError):
        _handshake(director, _client(minimum_version=ssl.TLSVersion.TLSv1_3))


def test_director_ciphers_are_the_era_nginx_list(director):
    """ECDHE first (server preference), DHE with the 1024-bit group nginx < 1.11 used by
    default, and nothing the era's list excluded (RC4, 3DES, plain RSA key exchange)."""
    with _handshake(director, _client(maximum_version=ssl.TLSVersion.TLSv1_2)) as conn:
        assert conn.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
    with _handshake(director, _client(ciphers="DHE-RSA-AES256-SHA:@SECLEVEL=0",
                                      maximum_version=ssl.TLSVersion.TLSv1_2)) as conn:
        assert conn.cipher()[0] == "DHE-RSA-AES256-SHA"
    for excluded in ("AES128-SHA", "AES256-GCM-SHA384", "DES-CBC3-SHA"):
        with pytest.raises(ssl.SSLError):
            _handshake(director, _client(ciphers=f"{excluded}:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2))


def test_haproxy_default_ciphers_follow_the_cf_release():
    assert tls.haproxy_default_ciphers("220").endswith(":AES128-SHA:RC4-SHA")
    assert tls.haproxy_default_ciphers("231").endswith(":AES128-SHA")
    assert tls.haproxy_default_ciphers("225") == tls.haproxy_default_ciphers("220")
    assert tls.haproxy_default_ciphers("240") == tls.haproxy_default_ciphers("231")


def test_sign_sha1_refuses_a_non_rsa_issuer(tmp_path: Path):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(tls._ERA_NOT_BEFORE).not_valid_after(tls._ERA_NOT_AFTER))
    with pytest.raises(ValueError, match="RSA issuer key"):
        tls.sign_sha1(builder, key)  # type: ignore[arg-type]
