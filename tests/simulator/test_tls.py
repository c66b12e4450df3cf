"""simulator/tls.py: one CA per run; the director and `*.bosh-lite.com` certificates verify
against it with the original names only."""

from __future__ import annotations

import socket
import ssl

import pytest

from simulator import tls
from simulator.server import start_wsgi_listener


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    return tls.generate(tmp_path_factory.mktemp("tls"))


def _handshake(port: int, ca_pem: str, name: str) -> dict:
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=name) as conn:
        return conn.getpeercert()


@pytest.mark.parametrize(("which", "good", "bad"), [
    ("system", ["api.bosh-lite.com", "uaa.bosh-lite.com", "bosh-lite.com"], ["api.example.com", "192.168.50.4"]),
    ("director", ["192.168.50.4"], ["api.bosh-lite.com", "192.168.50.5"]),
])
def test_certificates_verify_for_their_names_only(material, which, good, bad):
    listener = start_wsgi_listener(_app, material.context(which), name=f"tls-{which}")
    try:
        port = listener.address[1]
        for name in good:
            assert _handshake(port, material.ca_pem, name)["subject"]
        for name in bad:
            with pytest.raises(ssl.SSLCertVerificationError):
                _handshake(port, material.ca_pem, name)
    finally:
        listener.close()


def test_other_ca_is_rejected(material, tmp_path):
    other = tls.generate(tmp_path / "other")
    listener = start_wsgi_listener(_app, material.context("system"), name="tls-other")
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            _handshake(listener.address[1], other.ca_pem, "api.bosh-lite.com")
    finally:
        listener.close()


def test_private_keys_are_not_world_readable(material):
    for files in (material.director, material.system):
        assert files.key.stat().st_mode & 0o077 == 0
        assert "PRIVATE KEY" in files.key.read_text()
