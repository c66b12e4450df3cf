"""Certificates for one simulator run: a throw-away CA, the director's certificate and the
`*.bosh-lite.com` certificate of the HAProxy front.

A real BOSH-Lite serves HTTPS with certificates the suite must verify (with the CA from the
config), so the simulator does the same: one CA per run, written into the suite config, and
TLS verification stays on everywhere. Keys are ECDSA P-256 because they are generated in
milliseconds (RSA-2048 would cost a noticeable part of a fast test run).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DIRECTOR_IP = "192.168.50.4"
SYSTEM_DOMAIN = "bosh-lite.com"


@dataclass(frozen=True)
class CertFiles:
    cert: Path  # PEM certificate (leaf only)
    key: Path  # PEM private key (mode 0600)

    def server_context(self) -> ssl.SSLContext:
        """An `ssl.SSLContext` for a server presenting this certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


@dataclass(frozen=True)
class TlsMaterial:
    """Everything TLS of one run. `ca_pem` goes into the suite config."""

    ca_pem: str
    ca_path: Path
    director: CertFiles  # IP SAN 192.168.50.4
    system: CertFiles  # *.bosh-lite.com and bosh-lite.com

    def context(self, which: str) -> ssl.SSLContext:
        """Server context for "director" or "system" (the `*.bosh-lite.com` front)."""
        return {"director": self.director, "system": self.system}[which].server_context()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bosh-upgrade-acceptance simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate(directory: Path, system_domain: str = SYSTEM_DOMAIN,
             director_ip: str = DIRECTOR_IP) -> TlsMaterial:
    """Create a CA and the two server certificates under `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=30)

    ca_key = _key()
    ca_name = _name("simulator CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    ca_path = directory / "ca.pem"
    ca_path.write_text(ca_pem)

    def leaf(stem: str, common_name: str, sans: list[x509.GeneralName]) -> CertFiles:
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files = CertFiles(directory / f"{stem}.pem", directory / f"{stem}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(files.key, _key_pem(key))
        return files

    director = leaf("director", director_ip, [x509.IPAddress(ipaddress.ip_address(director_ip))])
    system = leaf("system", f"*.{system_domain}",
                  [x509.DNSName(f"*.{system_domain}"), x509.DNSName(system_domain)])
    return TlsMaterial(ca_pem=ca_pem, ca_path=ca_path, director=director, system=system)
