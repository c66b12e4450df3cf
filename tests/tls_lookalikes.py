"""Certificates shaped like the era's published BOSH-Lite certificates, with fresh keys.

The era's private keys are public (cf-release, bosh-lite); they are never copied here. These
look-alikes have the same shape, so the suite's clients meet what a user who deploys those
certificates would make them meet (../shared/docs/era-facts.md §5, §6):

* `haproxy_v231`: X.509 v1, no extensions (so no subjectAltName), CN=*.bosh-lite.com,
  self-signed, sha1WithRSAEncryption, RSA 2048, valid 2015-10-08 to 2289-07-22;
* `haproxy_v220`: v3, CA:TRUE, no subjectAltName, CN=*.10.244.0.34.xip.io, self-signed,
  sha1WithRSAEncryption, RSA 2048, valid 2014-12-24 to 2024-12-21 (expired).

Each is returned as (certificate PEM, key PEM) and written as files by `write`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from simulator.tls import sign_sha1, write_private


@dataclass(frozen=True)
class LookAlike:
    cert_pem: str
    key_pem: str

    @property
    def ssl_pem(self) -> str:
        """As `ha_proxy.ssl_pem` carries it: certificate, then key."""
        return self.cert_pem + self.key_pem

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert.write_text(self.cert_pem)
        write_private(key, self.key_pem.encode())
        return cert, key


def _self_signed(cn: str, not_before: dt.datetime, not_after: dt.datetime, *, version1: bool,
                 ca: bool) -> LookAlike:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
    )
    if ca:
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (builder.add_extension(ski, critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False))
    cert = sign_sha1(builder, key, version1=version1)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return LookAlike(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem)


def haproxy_v231() -> LookAlike:
    return _self_signed("*.bosh-lite.com", dt.datetime(2015, 10, 8, tzinfo=dt.UTC),
                        dt.datetime(2289, 7, 22, tzinfo=dt.UTC), version1=True, ca=False)


def haproxy_v220() -> LookAlike:
    return _self_signed("*.10.244.0.34.xip.io", dt.datetime(2014, 12, 24, tzinfo=dt.UTC),
                        dt.datetime(2024, 12, 21, tzinfo=dt.UTC), version1=False, ca=True)
