"""Why a server certificate did not verify, in words, with the config key that accepts it.

OpenSSL says one thing ("CA signature digest algorithm too weak", "Hostname mismatch"); a user
of a 2015 BOSH-Lite needs to know what the certificate is (SHA-1 signed, no subjectAltName,
expired, from another CA), whether one of the suite's TLS options may safely accept it, and
which key that is. `diagnose` reads the certificate the server presented (fetched again, not
trusted: helpers/net.py) and the endpoint's settings, and returns that sentence.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID


class TlsSettings(Protocol):
    """What the diagnosis reads of an endpoint's TLS settings (helpers.net.TlsSettings has it):
    described here rather than imported, because helpers.net calls this module and the
    dependency must go one way only."""

    ca_cert: str | None
    allow_sha1: bool
    hostname_from_cn: bool
    section: str

__all__ = ["diagnose", "names_host"]


def _anchors(tls: TlsSettings) -> list[x509.Certificate]:
    if not tls.ca_cert:
        return []
    try:
        return x509.load_pem_x509_certificates(tls.ca_cert.encode())
    except ValueError:
        return []


def names_host(pattern: str, host: str) -> bool:
    """RFC 6125 matching of one DNS name (a leading `*.` matches exactly one label)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return pattern == host


def _subject_alt_names(cert: x509.Certificate) -> list[str] | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _matches(names: list[str], host: str) -> bool:
    """An IP host matches an IP name only; a DNS host a DNS name (wildcards included)."""
    ip = _address(host)
    if ip is not None:
        return any(_address(n) == ip for n in names)
    return any(_address(n) is None and names_host(n, host) for n in names)


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s key made `cert`'s signature, SHA-1 included (cryptography's own
    `verify_directly_issued_by` refuses SHA-1, which is the very case to explain here)."""
    key = issuer.public_key()
    try:
        digest = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and digest is not None and cert.signature_algorithm_parameters is not None \
                and isinstance(cert.signature_algorithm_parameters, padding.PKCS1v15):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(digest))
        else:
            cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _signature_digest(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return algorithm.name if algorithm is not None else None


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return str(getattr(oid, "_name", None) or oid.dotted_string)


def diagnose(der: bytes, host: str, tls: TlsSettings, openssl: str, now: dt.datetime | None = None) -> str:
    """The explanation of a failed verification of `der` (the presented leaf) for `host`."""
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.UTC)
    key = tls.section or "<section>"
    anchors = _anchors(tls)
    pinned = any(a.fingerprint(hashes.SHA256()) == cert.fingerprint(hashes.SHA256()) for a in anchors)
    self_signed = cert.issuer == cert.subject
    problems: list[str] = []
    fixes: list[str] = []
    dead_ends: list[str] = []  # what no option may accept

    if cert.not_valid_after_utc < now:
        problems.append(f"it expired on {cert.not_valid_after_utc:%Y-%m-%d}")
        dead_ends.append("an expired certificate")
    elif cert.not_valid_before_utc > now:
        problems.append(f"it is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
        dead_ends.append("a certificate that is not valid yet")

    names = _subject_alt_names(cert)
    if names is None:
        cn = _common_name(cert)
        if cn is not None and _matches([cn], host):
            problems.append(f"it has no subjectAltName (only CN={cn})")
            if not tls.hostname_from_cn:
                fixes.append(f"{key}.tls_hostname_from_cn: true (check the host name against the CN when a "
                             "certificate has no subjectAltName)")
        else:
            problems.append(f"it has no subjectAltName and its CN ({cn}) does not name {host}")
            dead_ends.append(f"a certificate for another name than {host}")
    elif not _matches(names, host):
        problems.append(f"it names {', '.join(names)}, not {host}")
        dead_ends.append(f"a certificate for another name than {host}")

    if not pinned and not self_signed:
        digest = _signature_digest(cert)
        if digest == "sha1" and not tls.allow_sha1:
            problems.append(f"it is signed with SHA-1 ({_signature_name(cert)}), which OpenSSL refuses at its "
                            "default security level")
            fixes.append(f"{key}.tls_allow_sha1: true (accept SHA-1 signatures in a chain that ends at "
                         f"{key}.ca_cert{'' if anchors else ', which you must then give'})")
        elif digest == "md5":
            problems.append(f"it is signed with MD5 ({_signature_name(cert)})")
            dead_ends.append("an MD5 signature")
        named = [a for a in anchors if a.subject == cert.issuer]
        issuer = cert.issuer.rfc4514_string()
        if not named:
            where = f"{key}.ca_cert" if anchors else f"the system trust store ({key}.ca_cert is not set)"
            problems.append(f"it is issued by '{issuer}', which is not in {where}")
            fixes.append(f"{key}.ca_cert: the CA that issued it (only if you expected this certificate)")
        elif not any(_signed_by(cert, a) for a in named):
            problems.append(f"it names '{issuer}' as its issuer, but the CA of that name in {key}.ca_cert did "
                            "not sign it (another CA with the same name)")
            fixes.append(f"{key}.ca_cert: the CA that issued it (only if you expected this certificate)")
    elif not pinned:
        where = f"{key}.ca_cert" if anchors else f"the system trust store ({key}.ca_cert is not set)"
        problems.append(f"it is self-signed and not in {where}")
        fixes.append(f"{key}.ca_cert: this certificate (only if you expected it)")

    subject = cert.subject.rfc4514_string() or "(empty subject)"
    head = f"its certificate '{subject}' does not verify: " + "; ".join(problems or ["see OpenSSL's reason"])
    head += f" (OpenSSL: {openssl})."
    if dead_ends:
        return (f"{head} No TLS option may accept {' or '.join(dict.fromkeys(dead_ends))}: check the URL and "
                f"the resolve map, deploy a certificate for {host}, or set {key}.skip_ssl_validation: true "
                "(no verification at all).")
    if fixes:
        return f"{head} To accept it, set " + " and ".join(fixes) + "."
    return head

