"""Network plumbing shared by every client: the resolve map, HTTP sessions, TLS, redaction.

Why one module: every HTTP, SSH and Redis connection the suite opens must go through the
config's `resolve` map (like `curl --resolve`), keep verifying TLS against the *original*
host name, carry bounded timeouts, and never leak a credential in an error or log line.
Getting any one of these wrong in a single client breaks the loopback-only rule or the
secret hygiene of the whole suite, so they live here once.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from helpers.redaction import REDACTOR, RedactingFilter, Redactor, redact, redacting_logger

__all__ = [
    "REDACTOR",
    "HelperError",
    "RedactingFilter",
    "Redactor",
    "ResolveEntryError",
    "Resolver",
    "ResolverError",
    "TlsSettings",
    "TlsVerificationError",
    "describe_tls_failure",
    "http_session",
    "make_ssl_context",
    "parse_resolve_map",
    "pem_certificates",
    "redact",
    "resolve_socket",
    "tls_connection",
    "tls_verification_failed",
]

log = redacting_logger(__name__)


class HelperError(Exception):
    """Base of every error raised by helpers/: its text is always redacted.

    Redacted when built (so `args`/`repr` are clean too) and again when shown (secrets
    registered later, e.g. a token obtained after the error was created, are covered).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(REDACTOR.redact(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        return REDACTOR.redact(super().__str__())


# --------------------------------------------------------------------------- resolve map


class ResolverError(HelperError):
    """A connection would go somewhere the resolve policy forbids."""


class ResolveEntryError(ValueError):
    """One invalid resolve-map entry (collected by config validation)."""


@dataclass(frozen=True)
class _Wildcard:
    suffix: str  # ".bosh-lite.com"
    port: int
    target: tuple[str, int]


@dataclass(frozen=True)
class _Cidr:
    source: ipaddress.IPv4Network | ipaddress.IPv6Network
    target: ipaddress.IPv4Network | ipaddress.IPv6Network


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        host, sep, rest = text[1:].partition("]:")
        if not sep:
            raise ResolveEntryError(f"{what} {text!r} must be host:port")
        port_s = rest
    else:
        host, sep, port_s = text.rpartition(":")
        if not sep or not host:
            raise ResolveEntryError(f"{what} {text!r} must be host:port")
    try:
        port = int(port_s)
    except ValueError:
        raise ResolveEntryError(f"{what} {text!r}: port {port_s!r} is not a number")
    if not 0 < port < 65536:
        raise ResolveEntryError(f"{what} {text!r}: port {port} out of range 1-65535")
    return host.lower(), port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ResolveMap:
    exact: Mapping[tuple[str, int], tuple[str, int]]
    wildcards: tuple[_Wildcard, ...]
    cidrs: tuple[_Cidr, ...]

    def targets(self) -> list[str]:
        out = [h for h, _ in self.exact.values()] + [w.target[0] for w in self.wildcards]
        return out + [str(c.target) for c in self.cidrs]


def parse_resolve_map(mapping: Mapping[str, Any] | None) -> tuple[ResolveMap, list[str]]:
    """Parse a resolve map; returns the parsed map and every problem found (not just the first).

    Keys: `host:port` (exact), `*.domain:port` (wildcard, any depth of subdomain, not the bare
    domain), or `A.B.C.D/len` (CIDR). Values: `address:port` for the first two, and a CIDR of
    the same prefix length for the third (the address keeps its offset, the port is kept).
    """
    exact: dict[tuple[str, int], tuple[str, int]] = {}
    wild: list[_Wildcard] = []
    cidrs: list[_Cidr] = []
    problems: list[str] = []
    for key, value in (mapping or {}).items():
        where = f"resolve[{key!r}]"
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"{where}: key and value must be strings, got {type(value).__name__}")
            continue
        try:
            if "/" in key:
                try:
                    src = ipaddress.ip_network(key.strip(), strict=False)
                except ValueError:
                    raise ResolveEntryError(f"{where}: {key!r} is not a CIDR (A.B.C.D/len)")
                try:
                    dst = ipaddress.ip_network(value.strip(), strict=False)
                except ValueError:
                    raise ResolveEntryError(f"{where}: target {value!r} must be a CIDR like 127.37.0.0/16")
                if src.version != dst.version or src.prefixlen != dst.prefixlen:
                    raise ResolveEntryError(
                        f"{where}: target {value!r} must have the same IP version and prefix length as {key!r}"
                    )
                cidrs.append(_Cidr(src, dst))
                continue
            host, port = _split_host_port(key, f"{where}: key")
            target = _split_host_port(value, f"{where}: target")
            if host.startswith("*."):
                suffix = host[1:]
                if len(suffix) < 2 or "*" in suffix:
                    raise ResolveEntryError(f"{where}: wildcard must look like *.domain:port")
                wild.append(_Wildcard(suffix, port, target))
            elif "*" in host:
                raise ResolveEntryError(f"{where}: '*' is only allowed as the first label (*.domain:port)")
            else:
                exact[(host, port)] = target
        except ResolveEntryError as e:
            problems.append(str(e))
    wild.sort(key=lambda w: len(w.suffix), reverse=True)
    cidrs.sort(key=lambda c: c.source.prefixlen, reverse=True)
    return ResolveMap(exact, tuple(wild), tuple(cidrs)), problems


class Resolver:
    """Maps a (host, port) the platform advertises to the (address, port) to connect to.

    Order: exact `host:port`; `*.domain:port`, longest domain first; CIDR translation (same
    offset in the target network, port unchanged); else the host itself. With
    `loopback_only=True` (the project's own tests and the simulator) anything that does not
    end up in 127.0.0.0/8 (or `localhost`) raises ResolverError instead of connecting.
    """

    def __init__(self, mapping: Mapping[str, str] | ResolveMap | None = None, *, loopback_only: bool = False):
        if isinstance(mapping, ResolveMap):
            self._map = mapping
        else:
            self._map, problems = parse_resolve_map(mapping)
            if problems:
                raise ValueError("invalid resolve map: " + "; ".join(problems))
        self.loopback_only = loopback_only

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        h = host.strip("[]").lower().rstrip(".")
        port = int(port)
        target = self._map.exact.get((h, port))
        if target is None:
            for w in self._map.wildcards:
                if w.port == port and h.endswith(w.suffix) and len(h) > len(w.suffix):
                    target = w.target
                    break
        if target is None:
            try:
                addr = ipaddress.ip_address(h)
            except ValueError:
                addr = None
            if addr is not None:
                for c in self._map.cidrs:
                    if addr.version == c.source.version and addr in c.source:
                        offset = int(addr) - int(c.source.network_address)
                        target = (str(ipaddress.ip_address(int(c.target.network_address) + offset)), port)
                        break
        if target is None:
            target = (h, port)
        if self.loopback_only and not _is_loopback(target[0]):
            raise ResolverError(
                f"refusing to connect to {host}:{port} -> {target[0]}:{target[1]}: "
                "outside 127.0.0.0/8 (loopback-only mode); add it to the config's resolve map"
            )
        return target

    def create_connection(self, host: str, port: int, timeout: float | None = None) -> socket.socket:
        """Open a TCP connection to the resolved address of host:port (for SSH / Redis)."""
        addr = self.resolve(host, port)
        return socket.create_connection(addr, timeout=timeout)


def resolve_socket(resolver: Resolver | None, host: str, port: int) -> tuple[str, int]:
    """(host, port) to hand to socket-level libraries (paramiko, redis) for host:port."""
    return (resolver or Resolver()).resolve(host, port)


# --------------------------------------------------------------------------- TLS + HTTP


# Python's default client cipher string without DHE (a lowered security level must not let a
# 1024-bit DH group in) and with the level spelled out by the caller.
_STRONG_CIPHERS = "ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
ENDPOINT_NAMES = {"bosh": "BOSH director", "cf": "CF"}


@dataclass(frozen=True)
class TlsSettings:
    """How to verify one endpoint's server (docs/configuration.md, "TLS").

    `ca_cert`: PEM text of the trust anchors (None = the system store). Every certificate in it
    is an anchor, a CA or a server certificate itself (partial chains, as Python 3.13 does).
    `allow_sha1`: accept SHA-1 signatures in a chain that ends at `ca_cert`: OpenSSL's security
    level 0 for this endpoint's context only (TLS >= 1.2 and ECDHE AEAD/AES ciphers are kept).
    `hostname_from_cn`: when a certificate has no subjectAltName, check the host name against
    its CN (off by default, as in urllib3 2 and browsers; the stdlib alone would fall back).
    `section`: the config section ("bosh", "cf") that failure messages name in their fix.
    """

    ca_cert: str | None = None
    skip_ssl_validation: bool = False
    allow_sha1: bool = False
    hostname_from_cn: bool = False
    section: str = ""

    @property
    def endpoint(self) -> str:
        """"BOSH director" for `bosh` and for `promotion.environments.<env>.bosh` alike."""
        return ENDPOINT_NAMES.get(self.section.rsplit(".", 1)[-1], "server")


@functools.lru_cache(maxsize=32)
def make_ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """An SSLContext verifying per `tls` (or skipping verification when the config says so).

    Cached per setting: loading a CA parses and verifies PEM each time, and the poller and checks build
    sessions often; an SSLContext is safe to share between connections and threads."""
    if tls.skip_ssl_validation:
        # The user chose this explicitly (config); one log line instead of a warning per request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        log.warning("TLS certificate verification is disabled (skip_ssl_validation)")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        ctx = ssl.create_default_context(cadata=tls.ca_cert) if tls.ca_cert else ssl.create_default_context()
    except (ssl.SSLError, ValueError) as e:
        raise HelperError(f"CA certificate is not valid PEM: {e}")
    # urllib3 2 turns the CN fallback off only in contexts it builds itself; ours must say it.
    ctx.hostname_checks_common_name = tls.hostname_from_cn
    if tls.ca_cert:
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if tls.allow_sha1 and tls.ca_cert:
        ctx.set_ciphers(_STRONG_CIPHERS + ":@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def pem_certificates(text: str) -> list[str]:
    """Each `-----BEGIN CERTIFICATE-----` block of `text`, normalised to end with a newline;
    never anything else (an `ha_proxy.ssl_pem` also holds the private key)."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", text, re.DOTALL)
    return [b.replace("\r\n", "\n") + "\n" for b in blocks]


class TlsVerificationError(requests.exceptions.SSLError):
    """The server's certificate did not verify; the message says which endpoint, what was
    seen and which config key would accept it (if any may)."""


def tls_verification_failed(exc: BaseException) -> bool:
    """Whether `exc` is, or was raised while handling, a failed certificate verification: never
    transient, so callers that retry connection errors must not retry it."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, TlsVerificationError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def verification_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The `ssl.SSLCertVerificationError` somewhere inside a requests/urllib3 error."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return e
        todo.extend([*e.args, getattr(e, "reason", None), e.__cause__, e.__context__])
    return None


def peer_certificate(host: str, port: int, resolver: Resolver | None = None,
                     timeout: float = 5.0) -> bytes | None:
    """The DER certificate `host:port` presents (SNI = host), read without verifying it: only
    to explain a verification failure, never to trust anything."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with (resolver or Resolver()).create_connection(host, port, timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as conn:
            return conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ResolverError):
        return None


def describe_tls_failure(url: str, tls: TlsSettings, error: ssl.SSLCertVerificationError,
                         resolver: Resolver | None = None) -> str:
    """One message for a certificate that did not verify: the endpoint, what its certificate
    is, why it failed, and the config key that accepts it (when one may)."""
    from helpers import tls_diagnosis  # cryptography is only needed when something went wrong

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
    where = f"the {tls.endpoint} at {parts.scheme}://{parts.netloc}"
    openssl = error.verify_message or str(error)
    der = peer_certificate(host, port, resolver)
    if der is None:
        return f"TLS: cannot verify {where}: {openssl} (the certificate could not be read again to say more)"
    return f"TLS: cannot verify {where}: " + tls_diagnosis.diagnose(der, host, tls, openssl)


def tls_connection(tls: TlsSettings, host: str, port: int, resolver: Resolver | None = None,
                   timeout: float | None = 10.0) -> ssl.SSLSocket:
    """A TLS socket to `host:port` through the resolve map, verified per `tls` against the
    original host name: for clients that are not HTTP requests (a websocket, say). A failed
    verification raises TlsVerificationError with the same message as an HTTP request gets."""
    raw = (resolver or Resolver()).create_connection(host, port, timeout=timeout)
    try:
        return make_ssl_context(tls).wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        raise TlsVerificationError(describe_tls_failure(f"https://{host}:{port}", tls, exc, resolver)) from exc
    except BaseException:
        raw.close()
        raise


_DEFAULT_PORTS = {"http": 80, "https": 443}


class ResolvingAdapter(HTTPAdapter):
    """HTTPAdapter whose pools connect to the resolved address but speak TLS to the original host.

    The pool key is (scheme, resolved address, resolved port, server_hostname, ssl_context), so
    two public names behind one loopback listener get separate pools with their own SNI and
    hostname check; the Host header is always the original `host[:port]` of the URL.
    """

    def __init__(self, resolver: Resolver, tls: TlsSettings, timeout: tuple[float, float], pool_maxsize: int = 10):
        self.resolver = resolver
        self.tls = tls
        self.ssl_context = make_ssl_context(tls)
        self.default_timeout = timeout
        super().__init__(pool_connections=10, pool_maxsize=pool_maxsize, max_retries=0)

    def _pool_key(self, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
        parts = urlsplit(url)
        scheme = (parts.scheme or "http").lower()
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
        rhost, rport = self.resolver.resolve(host, port)
        host_params = {"scheme": scheme, "host": rhost, "port": rport}
        pool_kwargs: dict[str, Any] = {}
        if scheme == "https":
            pool_kwargs = {"ssl_context": self.ssl_context, "server_hostname": host}
            if self.tls.skip_ssl_validation:
                pool_kwargs["cert_reqs"] = "CERT_NONE"
                pool_kwargs["assert_hostname"] = False
            else:
                pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs

    def _pool_for(self, url: str):
        host_params, pool_kwargs = self._pool_key(url)
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    # requests >= 2.32 calls this; requests 2.31 calls get_connection(url). Both end in our pools,
    # so no requests version can open a connection that bypassed the resolve map.
    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        return self._pool_key(request.url)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self._pool_for(request.url)

    def get_connection(self, url, proxies=None):
        return self._pool_for(url)

    def cert_verify(self, conn, url, verify, cert):
        """Ignore requests' `verify` (it would load certifi into our context): our TlsSettings decide."""
        conn.cert_reqs = "CERT_NONE" if self.tls.skip_ssl_validation else "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if timeout is None:
            timeout = self.default_timeout
        parts = urlsplit(request.url)
        netloc = parts.netloc.rpartition("@")[2]
        request.headers["Host"] = netloc
        try:
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        except requests.exceptions.SSLError as exc:
            failure = verification_error(exc)
            if failure is None or isinstance(exc, TlsVerificationError):
                raise
            raise TlsVerificationError(describe_tls_failure(request.url, self.tls, failure, self.resolver),
                                       request=request) from exc


def _transient(exc: BaseException) -> bool:
    """Connection failures are worth a retry; TLS failures and read timeouts are not."""
    return isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, requests.exceptions.SSLError | requests.exceptions.ReadTimeout | ResolverError
    )


class ResolvingSession(requests.Session):
    """requests.Session that retries idempotent requests on connection errors (bounded)."""

    retries: int = 2

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if method.upper() not in ("GET", "HEAD", "OPTIONS") or self.retries <= 0:
            return super().request(method, url, *args, **kwargs)
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return super().request(method, url, *args, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover


def http_session(
    tls: TlsSettings | None = None,
    resolver: Resolver | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    *,
    retries: int = 2,
    pool_maxsize: int = 10,
    tls_by_prefix: Mapping[str, TlsSettings] | None = None,
) -> requests.Session:
    """A Session that goes through `resolver`, verifies TLS per `tls`, and always has timeouts.

    `retries` applies to GET/HEAD/OPTIONS on connection errors only (pass 0 for measurements
    such as the route poller). Environment proxies are ignored: the resolve map, not
    HTTP(S)_PROXY, decides where a connection goes. `tls_by_prefix` gives other URL prefixes
    (e.g. the director's `https://192.168.50.4:25555`) their own TLS settings, for a client
    that talks to several endpoints through one session.
    """
    session = ResolvingSession()
    session.retries = retries
    session.trust_env = False
    resolver = resolver or Resolver()
    adapter = ResolvingAdapter(resolver, tls or TlsSettings(), timeout, pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    for prefix, settings in (tls_by_prefix or {}).items():
        session.mount(prefix, ResolvingAdapter(resolver, settings, timeout, pool_maxsize))
    return session
