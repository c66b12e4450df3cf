"""TLS as the 2015-16 BOSH-Lite served it: the director's certificate and the server contexts
of the era's director nginx and HAProxy (docs/architecture.md "Era: TLS").

Why era-shaped: a suite that passes only because its double serves modern TLS fails on the
real thing. The BOSH-Lite director of late 2015 presented an RSA-2048 leaf signed with
SHA-1 by a self-signed SHA-1 CA; OpenSSL 3 refuses to verify that at its default security
level, and Go >= 1.18 (the bosh CLI v7) refuses SHA-1 signatures altogether. So the simulator
presents exactly that shape, with keys generated for each run (never the published ones).

Serving it needs OpenSSL's security level 0 on the server side (`ca md too weak` otherwise),
and the era's servers spoke TLS 1.0 to 1.2 only, with their own cipher lists: both are set
here, once, for every era listener. Deviations forced by this OpenSSL are listed in
docs/architecture.md (RC4 is not available, for example).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

DIRECTOR_IP = "192.168.50.4"

# bosh@5ea8a74f9d (1.3098.0):release/jobs/director/spec:45-53 (`director.nginx.ssl_ciphers`
# default, unchanged at 1.3215); BOSH-Lite's manifest does not override it.
DIRECTOR_NGINX_CIPHERS = (
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-DSS-AES128-GCM-SHA256:kEDH+AESGCM:"
    "ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:"
    "DHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA256:DHE-RSA-AES256-SHA256:"
    "DHE-DSS-AES256-SHA:DHE-RSA-AES256-SHA:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!3DES:!MD5:!PSK"
)

# cf-release@v220 / @v231:jobs/haproxy/spec:25 (`ha_proxy.ssl_ciphers` default). Four names
# (`ECDHE-RSA-AES128-CBC-SHA256` ...) are not OpenSSL cipher names: OpenSSL skips unknown
# names in a cipher string, so the real HAProxy never offered them either.
_HAPROXY_V231 = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-CBC-SHA256:ECDHE-RSA-AES256-CBC-SHA384:"
    "ECDHE-RSA-AES128-CBC-SHA:ECDHE-RSA-AES256-CBC-SHA:AES128-SHA256:AES128-SHA"
)
HAPROXY_DEFAULT_CIPHERS: dict[int, str] = {220: _HAPROXY_V231 + ":RC4-SHA", 231: _HAPROXY_V231}

# RFC 2409 section 6.2 (the 1024-bit MODP "Oakley group 2"), generator 2. nginx before 1.11
# used built-in 1024-bit parameters when `ssl_dhparam` was not set (removed by nginx/nginx@61ec58a9;
# the director's nginx.conf.erb sets none), so the era director offered DHE with a 1024-bit
# group: same size here, a public group.
_MODP_1024 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16)

# The era's director certificates: the same names and validity, fresh keys per run
# (cloudfoundry/bosh-lite@295b76d:packer/templates/bosh_lite_manifest_template.yml:85-138).
_ERA_NOT_BEFORE = dt.datetime(2015, 7, 12, tzinfo=dt.UTC)
_ERA_NOT_AFTER = dt.datetime(2289, 4, 25, tzinfo=dt.UTC)
_DIRECTOR_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "AU"),
                               x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Some-State"),
                               x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Internet Widgits Pty Ltd")])


# AlgorithmIdentifier DER of sha256WithRSAEncryption and sha1WithRSAEncryption (NULL params):
# the same length, so one can replace the other inside a TBSCertificate without re-encoding it.
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_WITH_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _der_children(sequence: bytes) -> list[bytes]:
    """The encoded elements of a DER SEQUENCE (single-byte tags, as in certificates)."""
    length, pos = sequence[1], 2
    if length & 0x80:
        n = length & 0x7F
        pos += n
    out = []
    while pos < len(sequence):
        start, size = pos, sequence[pos + 1]
        pos += 2
        if size & 0x80:
            n = size & 0x7F
            size = int.from_bytes(sequence[pos:pos + n], "big")
            pos += n
        pos += size
        out.append(sequence[start:pos])
    return out


def sign_sha1(builder: x509.CertificateBuilder, issuer_key: rsa.RSAPrivateKey, *,
              version1: bool = False) -> x509.Certificate:
    """Sign `builder` with sha1WithRSAEncryption, optionally as an X.509 v1 certificate (no
    version field, no extensions), as 2015's certificates were.

    cryptography >= 50 refuses to sign certificates with SHA-1, so the TBSCertificate it
    builds for SHA-256 is re-labelled (same-length AlgorithmIdentifier), signed with SHA-1
    PKCS#1 v1.5 and wrapped into a Certificate here. Test and simulator use only: these
    certificates exist to be as weak as the era's.
    """
    tbs = builder.sign(issuer_key, hashes.SHA256()).tbs_certificate_bytes
    elements = _der_children(tbs)
    if version1:
        elements = [e for e in elements if e[0] not in (0xA0, 0xA3)]  # [0] version, [3] extensions
    if elements.count(_SHA256_WITH_RSA) != 1:
        raise ValueError("sign_sha1 needs an RSA issuer key (sha256WithRSAEncryption draft)")
    elements[elements.index(_SHA256_WITH_RSA)] = _SHA1_WITH_RSA
    tbs = _der(0x30, b"".join(elements))
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return x509.load_der_x509_certificate(_der(0x30, tbs + _SHA1_WITH_RSA + _der(0x03, b"\x00" + signature)))


def _director_leaf_name(ip: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "BOSH"),
                      x509.NameAttribute(NameOID.COMMON_NAME, ip)])


def write_private(path: Path, data: bytes) -> None:
    """Write key material owner-only (created 0600, never world-readable for an instant)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _der_integer(n: int) -> bytes:
    return _der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))  # room for a sign bit


def _dh_params_file(directory: Path) -> Path:
    """PKCS#3 DHParameter PEM of the 1024-bit group (cryptography deprecates FFDH objects, and
    the encoding is two integers)."""
    path = directory / "dhparam-1024.pem"
    der = _der(0x30, _der_integer(_MODP_1024) + _der_integer(2))
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    path.write_text("-----BEGIN DH PARAMETERS-----\n" + "\n".join(lines) + "\n-----END DH PARAMETERS-----\n")
    return path


def era_server_context(certfile: Path, keyfile: Path | None, ciphers: str, *,
                       dh_params: Path | None = None) -> ssl.SSLContext:
    """A server context as an era nginx/HAProxy built it: TLS 1.0 to 1.2 (no SSLv3, no TLS
    1.3), the given OpenSSL cipher string with the server's preference, and security level 0
    so that SHA-1 certificates and 1024-bit DH load at all. Raises ssl.SSLError when the
    certificate, key or cipher string cannot be used (as the real process would fail to start).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.0 is deprecated in Python; the era offered it
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    if dh_params is not None:
        ctx.load_dh_params(str(dh_params))
    return ctx


def haproxy_default_ciphers(cf_release_version: str | None) -> str:
    """`ha_proxy.ssl_ciphers`' default for a cf-release version: the newest known default at or
    below it (v220 still lists RC4-SHA; v231 dropped it)."""
    try:
        version = int(str(cf_release_version).split(".")[0])
    except ValueError:
        version = max(HAPROXY_DEFAULT_CIPHERS)
    known = [v for v in sorted(HAPROXY_DEFAULT_CIPHERS) if v <= version] or [min(HAPROXY_DEFAULT_CIPHERS)]
    return HAPROXY_DEFAULT_CIPHERS[known[-1]]


@dataclass(frozen=True)
class TlsMaterial:
    """The director's TLS of one run. `ca_pem` (the director CA) goes into the suite config as
    `bosh.ca_cert`; `director_context()` is what the director's listener serves."""

    ca_pem: str
    ca_path: Path
    director_cert: Path  # the leaf, PEM
    director_key: Path  # its RSA key, PEM, mode 0600
    dh_params: Path

    def director_context(self) -> ssl.SSLContext:
        return era_server_context(self.director_cert, self.director_key, DIRECTOR_NGINX_CIPHERS,
                                  dh_params=self.dh_params)


def generate(directory: Path, director_ip: str = DIRECTOR_IP) -> TlsMaterial:
    """A CA and the director's leaf under `directory` (created if needed), shaped like
    BOSH-Lite's of 2015: CA `C=AU, ST=Some-State, O=Internet Widgits Pty Ltd` (self-signed,
    CA:TRUE), leaf `C=US, O=BOSH, CN=<ip>` with SAN `IP:<ip>`, both RSA 2048 and signed with
    SHA-1, valid 2015-07-12 to 2289-04-25."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = sign_sha1(
        x509.CertificateBuilder()
        .subject_name(_DIRECTOR_CA_NAME).issuer_name(_DIRECTOR_CA_NAME)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_ERA_NOT_BEFORE).not_valid_after(_ERA_NOT_AFTER)
        .add_extension(ca_ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False),
        ca_key)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    ca_path = directory / "director-ca.pem"
    ca_path.write_text(ca_pem)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = sign_sha1(
        x509.CertificateBuilder()
        .subject_name(_director_leaf_name(director_ip)).issuer_name(_DIRECTOR_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_ERA_NOT_BEFORE).not_valid_after(_ERA_NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(director_ip))]),
                       critical=False),
        ca_key)
    cert_path, key_path = directory / "director.pem", directory / "director.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    write_private(key_path, _key_pem(key))
    return TlsMaterial(ca_pem, ca_path, cert_path, key_path, _dh_params_file(directory))
