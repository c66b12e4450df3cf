"""Generated credentials shared by the V0 and V-prime manifests.

Upstream BOSH-Lite stubs carry public development credentials; we never use them. Instead
every password, key and certificate is generated once and kept in a secrets YAML file, so
that the V-prime manifests (deployed over V0) keep the same passwords, the same ssh-proxy
host key (whose fingerprint CF publishes), the same CA that running instances trust and the
same HAProxy certificate (`ha_proxy.ssl_pem`, what clients of the CF API verify).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import secrets as _random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD_KEYS = (
    "admin_password",
    "nats_password",
    "cc_internal_api_password",
    "cc_staging_upload_password",
    "cc_bulk_api_password",
    "cc_db_encryption_key",
    "uaa_admin_client_secret",
    "uaa_jwt_signing_key",
    "uaa_login_client_secret",
    "uaa_cc_client_secret",
    "uaa_doppler_client_secret",
    "ssh_proxy_client_secret",
    "loggregator_shared_secret",
    "router_status_password",
    "ccdb_password",
    "uaadb_password",
    "consul_encrypt_key",
    "bbs_encryption_passphrase",
)
FIXED_DEFAULTS = {"admin_user": "admin", "nats_user": "nats", "cc_staging_upload_user": "upload",
                  "cc_internal_api_user": "internal_user", "router_status_user": "router_status"}
TLS_KEYS = (
    "ca_cert",
    "consul_server_cert", "consul_server_key", "consul_agent_cert", "consul_agent_key",
    "etcd_server_cert", "etcd_server_key", "etcd_client_cert", "etcd_client_key",
    "etcd_peer_cert", "etcd_peer_key",
    "bbs_server_cert", "bbs_server_key", "bbs_client_cert", "bbs_client_key",
)
SSH_KEYS = ("ssh_proxy_host_key", "ssh_proxy_host_key_fingerprint")
# HAProxy's certificate: a CA of its own (not the internal CA of consul/etcd/BBS, whose trust
# must not extend to the public API), and `ha_proxy_ssl_pem` = leaf certificate + its key for
# `*.<system domain>`, as cf-release's haproxy job takes it.
# The leaf, `ha_proxy_ssl_pem`, names the system domain, so it is issued once that is known.
HAPROXY_KEYS = ("ha_proxy_ca_cert", "ha_proxy_ca_key")
SECRET_KEYS = tuple(FIXED_DEFAULTS) + PASSWORD_KEYS + TLS_KEYS + SSH_KEYS + ("ca_key",) + HAPROXY_KEYS


# What in a secrets file is secret (everything but the user names, the certificates and the
# host key's fingerprint, which CF publishes): registered with the redactor by a run, so that
# none of it reaches a line, a report or an artifact.
NOT_SECRET = frozenset({*FIXED_DEFAULTS, "ssh_proxy_host_key_fingerprint", "ca_cert", "ha_proxy_ca_cert",
                        *(k for k in TLS_KEYS if k.endswith("_cert"))})


def secret_values(values: dict[str, Any]) -> list[str]:
    """The secret values of a secrets file (`NOT_SECRET` aside), as strings."""
    return [str(v) for k, v in values.items() if k not in NOT_SECRET and isinstance(v, str) and v]


class SecretsError(Exception):
    """The secrets file exists but cannot be used."""


def new_password() -> str:
    return _random.token_hex(16)


def _pem_key(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ssh_md5_fingerprint(private_key_pem: str) -> str:
    """MD5 fingerprint of an RSA host key as CF publishes it (`aa:bb:...`, 16 bytes)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(public.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _new_ca() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("bosh-upgrade-acceptance CA"))
        .issuer_name(_name("bosh-upgrade-acceptance CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _pem_cert(cert), _pem_key(key)


def _issue(ca_cert_pem: str, ca_key_pem: str, cn: str, sans: list[str]) -> tuple[str, str]:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return _pem_cert(builder.sign(ca_key, hashes.SHA256())), _pem_key(key)


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _new_haproxy_ca() -> tuple[str, str]:
    """RSA, so that every cipher of the era's `ha_proxy.ssl_ciphers` (ECDHE-RSA, AES128-SHA)
    and every client of 2015 can use the chain."""
    key = _rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bosh-upgrade-acceptance"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "bosh-upgrade-acceptance HAProxy CA")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pem_cert(cert), _pem_key(key)


def issue_haproxy_pem(ca_cert_pem: str, ca_key_pem: str, system_domain: str) -> str:
    """`ha_proxy.ssl_pem` for `*.<system_domain>` and `<system_domain>`: the leaf certificate
    (RSA 2048, SHA-256, subjectAltName) followed by its private key, issued by the given CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = _rsa_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"*.{system_domain}"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"*.{system_domain}"),
                                                    x509.DNSName(system_domain)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem_cert(cert) + _pem_key(key)


def _issued_for(ssl_pem: str, ca_cert_pem: str) -> set[str] | None:
    """The DNS names of the leaf in `ssl_pem` if our HAProxy CA issued it, else None (a
    certificate the user brought is kept whatever it names)."""
    try:
        leaf = x509.load_pem_x509_certificate(ssl_pem.encode())
        ca = x509.load_pem_x509_certificate(ca_cert_pem.encode())
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    try:
        return set(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                   .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        return set()


CERTS: dict[str, tuple[str, list[str]]] = {
    "consul_server": ("server.dc1.cf.internal", ["server.dc1.cf.internal"]),
    "consul_agent": ("consul agent", []),
    "etcd_server": ("etcd.service.cf.internal", ["etcd.service.cf.internal", "*.etcd.service.cf.internal"]),
    "etcd_client": ("diego etcd client", []),
    "etcd_peer": ("etcd.service.cf.internal", ["etcd.service.cf.internal", "*.etcd.service.cf.internal"]),
    "bbs_server": ("bbs.service.cf.internal", ["bbs.service.cf.internal", "*.bbs.service.cf.internal"]),
    "bbs_client": ("diego bbs client", []),
}


def complete(values: dict[str, Any], system_domain: str | None = None) -> tuple[dict[str, Any], bool]:
    """Fill in whatever is missing; returns (secrets, changed). Existing values are kept.

    With `system_domain`, `ha_proxy_ssl_pem` is made to cover `*.<system_domain>`: issued if
    missing, re-issued if our HAProxy CA issued it for another domain, kept if the user put a
    certificate of their own there."""
    out = dict(values)
    changed = False

    def need(key: str, make: Callable[[], Any]) -> None:
        nonlocal changed
        if not out.get(key):
            out[key] = make()
            changed = True

    for key, default in FIXED_DEFAULTS.items():
        need(key, lambda d=default: d)
    for key in PASSWORD_KEYS:
        need(key, new_password)
    if not out.get("ca_cert") or not out.get("ca_key"):
        out["ca_cert"], out["ca_key"] = _new_ca()
        for prefix in CERTS:
            out.pop(f"{prefix}_cert", None)
        changed = True
    for prefix, (cn, sans) in CERTS.items():
        if not out.get(f"{prefix}_cert") or not out.get(f"{prefix}_key"):
            out[f"{prefix}_cert"], out[f"{prefix}_key"] = _issue(out["ca_cert"], out["ca_key"], cn, sans)
            changed = True
    need("ssh_proxy_host_key", lambda: _pem_key(_rsa_key()))
    if not out.get("ha_proxy_ca_cert") or not out.get("ha_proxy_ca_key"):
        old_ca, pem = out.get("ha_proxy_ca_cert"), out.get("ha_proxy_ssl_pem")
        if old_ca and pem and _issued_for(pem, old_ca) is not None:
            out.pop("ha_proxy_ssl_pem")  # issued by the CA being replaced: re-issue it below
        out["ha_proxy_ca_cert"], out["ha_proxy_ca_key"] = _new_haproxy_ca()
        changed = True
    if system_domain:
        pem = out.get("ha_proxy_ssl_pem")
        names = _issued_for(pem, out["ha_proxy_ca_cert"]) if pem else set()
        if names is not None and {f"*.{system_domain}", system_domain} - names:
            out["ha_proxy_ssl_pem"] = issue_haproxy_pem(out["ha_proxy_ca_cert"], out["ha_proxy_ca_key"],
                                                        system_domain)
            changed = True
    fingerprint = ssh_md5_fingerprint(out["ssh_proxy_host_key"])
    if out.get("ssh_proxy_host_key_fingerprint") != fingerprint:
        out["ssh_proxy_host_key_fingerprint"] = fingerprint
        changed = True
    return out, changed


def fit_haproxy_certificate(values: dict[str, Any], system_domain: str, path: Path | None) -> bool:
    """Make `values["ha_proxy_ssl_pem"]` cover `system_domain` (see `complete`), saving the
    secrets file when it changed. True when it changed (the CF manifest must be rebuilt)."""
    completed, changed = complete(values, system_domain)
    if not changed:
        return False
    fitted = {key: completed[key] for key in (*HAPROXY_KEYS, "ha_proxy_ssl_pem")}
    values.update(fitted)
    if path is not None:  # only these keys: values given on the command line stay out of the file
        write(path, {**read(path), **fitted})
    return True


def load_or_create(path: Path | None, system_domain: str | None = None) -> dict[str, Any]:
    """Read the secrets file (creating or completing it), or make throw-away secrets if None.
    `system_domain`: the domain the HAProxy certificate must cover (see `complete`)."""
    if path is None:
        return complete({}, system_domain)[0]
    path = Path(path)
    values, changed = complete(read(path), system_domain)
    if changed:
        write(path, values)
    return values


def read(path: Path) -> dict[str, Any]:
    """The secrets file as a map ({} when absent); SecretsError when it cannot be used."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SecretsError(f"cannot read secrets file {path}: {exc.__class__.__name__}")
    if data is not None and not isinstance(data, dict):
        raise SecretsError(f"secrets file {path} is not a map")
    return {str(k): v for k, v in (data or {}).items()}


def write(path: Path, values: dict[str, Any]) -> None:
    """Atomic, owner-only write: the file holds credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# Generated credentials for the piecewise CF + Diego manifests. Keep private.\n")
        yaml.safe_dump(dict(sorted(values.items())), fh, default_flow_style=False)
    os.replace(tmp, path)
