"""HTTP probing: the error taxonomy of a request through the router, and the fetchers.

Why a taxonomy: "A0 was down" says little; "connect_refused" (HAProxy gone),
"unknown_route" (the gorouter forgot the route), "endpoint_failure" (a backend died under
the router) or "read_timeout" point at the part of the platform that failed. Every
request opens a fresh connection (no keep-alive: a reused connection to a router being
recreated skews results). The network is behind an injectable `fetch(url, connect_timeout,
read_timeout) -> FetchResult` so that tests use a local server.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from helpers.samples import Sample

# --------------------------------------------------------------------------------------
# Error taxonomy

ERROR_CLASSES = (
    "dns",  # the name did not resolve
    "connect_refused",  # nothing listens (e.g. HAProxy down)
    "connect_timeout",  # no TCP answer within the connect timeout
    "connect_reset",  # connection reset/aborted/closed without a response
    "tls",  # handshake or certificate failure
    "read_timeout",  # connected, no answer within the read timeout
    "unknown_route",  # 404 (gorouter: X-Cf-Routererror: unknown_route)
    "endpoint_failure",  # 502 (gorouter: X-Cf-Routererror: endpoint_failure)
    "http_503",  # 503 (HAProxy without a gorouter, or an app not ready)
    "other_status",  # any other non-2xx status
    "body_mismatch",  # 2xx, but not the body the app answers
)


@dataclass(frozen=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]
    body: str


Fetch = Callable[[str, float, float], FetchResult]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (cause/context/args), for classification."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if e in seen or len(seen) > 20:
            continue
        seen.append(e)
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return seen


def classify_exception(exc: BaseException) -> str:
    """Map a transport exception (requests, urllib3 or plain socket) onto the taxonomy."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names \
            or "name or service not known" in text or "failed to resolve" in text:
        return "dns"
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain) or "SSLError" in names:
        return "tls"
    if "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        return "connect_timeout"
    if "ReadTimeout" in names or "ReadTimeoutError" in names:
        return "read_timeout"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "connect_refused"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in chain):
        # a bare socket timeout: during connect if no connection was made
        return "connect_timeout" if "connect" in text else "read_timeout"
    return "connect_reset"


def classify_response(result: FetchResult, body_ok: Callable[[str], bool] | None = None) -> str | None:
    """The error class of a response, or None when it counts as routable."""
    if 200 <= result.status < 300:
        if body_ok is not None and not body_ok(result.body):
            return "body_mismatch"
        return None
    if result.status == 404:
        return "unknown_route"
    if result.status == 502:
        return "endpoint_failure"
    if result.status == 503:
        return "http_503"
    return "other_status"


def header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lname), None)


# --------------------------------------------------------------------------------------
# Fetchers


def requests_fetch(session_factory: Callable[[], Any]) -> Fetch:
    """A `fetch` over requests: a new session per request (fresh connection, `Connection:
    close`), so that a stale keep-alive connection never hides or causes an outage.
    `session_factory` is e.g. `lambda: net.http_session(tls, resolver)` (resolve map, TLS)."""

    def fetch(url: str, connect_timeout: float, read_timeout: float) -> FetchResult:
        session = session_factory()
        try:
            resp = session.get(url, timeout=(connect_timeout, read_timeout),
                               headers={"Connection": "close"}, allow_redirects=False)
            body = resp.content[:4096].decode("utf-8", "replace")
            return FetchResult(resp.status_code, dict(resp.headers), body)
        finally:
            session.close()

    return fetch


def shared_session_fetch(session: Any) -> Fetch:
    """A `fetch` over one shared session whose TLS/resolver set-up is paid once; every
    request still opens a fresh TCP connection (`Connection: close`, so the pool never
    reuses it). Cheaper than `requests_fetch` when building a session is costly."""

    def fetch(url: str, connect_timeout: float, read_timeout: float) -> FetchResult:
        resp = session.get(url, timeout=(connect_timeout, read_timeout), headers={"Connection": "close"},
                           allow_redirects=False)
        try:
            body = resp.content[:4096].decode("utf-8", "replace")
            return FetchResult(resp.status_code, dict(resp.headers), body)
        finally:
            resp.close()

    return fetch


# --------------------------------------------------------------------------------------
# An HTTP attempt for a prober


def default_instance_from(body: str) -> str | None:
    """The probe's `/id` answers the instance guid; anything short and single-line counts."""
    text = body.strip()
    if text and len(text) <= 128 and "\n" not in text:
        return text
    return None


def http_attempt(url: str, fetch: Fetch, connect_timeout: float = 1.0, read_timeout: float = 1.0,
                 body_ok: Callable[[str], bool] | None = None,
                 instance_from: Callable[[str], str | None] = default_instance_from) -> Callable[[Sample], None]:
    """`attempt(sample)`: GET `url`, classify the answer into the sample."""

    def attempt(sample: Sample) -> None:
        try:
            result = fetch(url, connect_timeout, read_timeout)
        except Exception as exc:
            sample.error = classify_exception(exc)
            sample.detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            return
        sample.status = result.status
        sample.router_error = header(result.headers, "X-Cf-Routererror")
        sample.request_id = header(result.headers, "X-Vcap-Request-Id")
        sample.error = classify_response(result, body_ok)
        if sample.error is None:
            sample.instance = instance_from(result.body)
        else:
            sample.detail = f"{result.status} {result.body[:160]}".strip()

    return attempt
