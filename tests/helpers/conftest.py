"""Fixtures for the client tests: a throw-away PKI and local HTTPS/HTTP servers on 127.0.0.1.

The servers are real werkzeug servers in threads, so the tests exercise the same TLS, SNI,
resolve-map and Range code paths a real director or CF would.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    other_ca_pem: str  # a CA that did not sign the server certificate
    cert_file: Path
    key_file: Path
    ca_file: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca = _ca("test CA")
    _, other = _ca("other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName("*.bosh-lite.com"), x509.DNSName("bosh-lite.com"),
            x509.IPAddress(ipaddress.ip_address("192.168.50.4"))]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("bosh-lite.com")).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file, ca_file = d / "server.pem", d / "server.key", d / "ca.pem"
    cert_file.write_text(_pem(leaf))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_file.write_text(_pem(ca))
    return Pki(_pem(ca), _pem(other), cert_file, key_file, ca_file)


class Server:
    """A werkzeug server in a daemon thread on 127.0.0.1 (ephemeral port)."""

    def __init__(self, app: Callable, ssl_context: ssl.SSLContext | None):
        self._srv = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
        self.port = self._srv.server_port
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5)


@pytest.fixture
def serve(pki: Pki) -> Iterator[Callable[..., Server]]:
    """serve(wsgi_app, tls=True) -> Server; every server is stopped after the test."""
    servers: list[Server] = []

    def start(app: Callable, tls: bool = True) -> Server:
        ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki.cert_file, pki.key_file)
        s = Server(app, ctx)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
