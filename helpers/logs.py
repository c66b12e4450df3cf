"""App logs: recent logs from doppler (multipart dropsonde protobuf) and streaming logs from
doppler's websocket; log-cache as the recent-logs fallback of newer platforms only.

The era's Loggregator (cf v220/v231) serves `GET /apps/<guid>/recentlogs` (multipart, one
Envelope per part) and `wss://doppler.<domain>:4443/apps/<guid>/stream` (one binary Envelope
per frame, a ping every ~15-30 s). Newer CFs dropped `recentlogs` for log-cache
(`/api/v1/read/<guid>`, JSON); the suite also runs against those ("any CF"), so recent logs
fall back to log-cache, but only when doppler's endpoint is *absent* (404/410 from the
traffic controller, or unreachable): against the era it always answers (200, or 401 for a
refused token), so the fallback is never taken there and no `GET /` or log-cache request is
made. A 404 from the router itself (`X-Cf-Routererror: unknown_route`: no traffic controller
registered) also tries the fallback, and says so if there is none. Order is not guaranteed by
either source, so lines are sorted by their timestamp.

Streaming (`LogStream`, `stream_logs`) has no fallback: log-cache's streaming is a different
protocol (polling), and the continuous measurement it serves needs the era's push stream.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from codec import dropsonde
from codec.protobuf import ProtobufError
from helpers.net import REDACTOR, HelperError, Resolver, make_ssl_context, redacting_logger

if TYPE_CHECKING:
    from helpers.cf import CloudFoundry

__all__ = [
    "LogLine",
    "LogStream",
    "LogsError",
    "decode_envelope",
    "parse_multipart",
    "recent_logs",
    "stream_logs",
]

log = redacting_logger(__name__)


class LogsError(HelperError):
    """Recent logs could not be read from doppler nor from log-cache."""


@dataclass(frozen=True)
class LogLine:
    timestamp_ns: int
    source_type: str
    source_instance: str
    message: str
    stream: str  # "OUT" | "ERR"

    def __str__(self) -> str:
        return f"[{self.source_type}/{self.source_instance}] {self.stream} {self.message}"


# --------------------------------------------------------------------------- doppler


def _line(log: dropsonde.LogMessage) -> LogLine:
    return LogLine(log.timestamp_ns, log.source_type, log.source_instance,
                   log.message.decode("utf-8", "replace").rstrip("\n"), log.stream)


def decode_envelope(buf: bytes) -> LogLine | None:
    """A dropsonde `events.Envelope`: the LogLine of its logMessage, or None for other events."""
    log = dropsonde.read_envelope(buf)
    return None if log is None else _line(log)


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def parse_multipart(content_type: str, body: bytes) -> list[bytes]:
    """The parts of a `multipart/x-protobuf` body (parts may have no headers at all)."""
    m = _BOUNDARY.search(content_type or "")
    if not m:
        raise LogsError(f"recent logs: no multipart boundary in Content-Type {content_type!r}")
    delim = b"--" + m.group(1).strip().encode()
    parts = []
    for seg in body.split(delim)[1:]:
        if seg.startswith(b"--"):
            break
        end = seg.find(b"\r\n\r\n")
        if end < 0:
            continue
        data = seg[end + 4:]
        if data.endswith(b"\r\n"):
            data = data[:-2]
        parts.append(data)
    return parts


def _doppler_url(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme or "https")
    return f"{scheme}://{parts.netloc}"


def _get_with_refresh(cf: CloudFoundry, url: str, **kw: Any) -> requests.Response:
    """GET with the CF token; on 401 refresh once and retry (as the CLI does for logs)."""
    r = cf.session.get(url, headers=cf.auth_header(), **kw)
    if r.status_code == 401:
        cf.refresh()
        r = cf.session.get(url, headers=cf.auth_header(), **kw)
    return r


def _from_doppler(cf: CloudFoundry, endpoint: str, app_guid: str) -> list[LogLine] | None:
    """Lines from doppler, or None when the endpoint is absent (404/410/unreachable)."""
    url = f"{_doppler_url(endpoint)}/apps/{app_guid}/recentlogs"
    try:
        r = _get_with_refresh(cf, url)
    except requests.ConnectionError as e:
        log.info("doppler unreachable (%s); trying log-cache", e)
        return None
    if r.status_code in (404, 410):
        if r.headers.get("X-Cf-Routererror") == "unknown_route":
            log.info("no traffic controller behind %s (router: unknown_route); trying log-cache", url)
        return None
    if r.status_code != 200:
        raise LogsError(f"doppler recentlogs for app {app_guid}: {r.status_code} {r.text[:200]}")
    lines = []
    for part in parse_multipart(r.headers.get("Content-Type", ""), r.content):
        try:
            line = decode_envelope(part)
        except ProtobufError as e:
            raise LogsError(f"doppler recentlogs for app {app_guid}: undecodable envelope: {e}")
        if line is not None:
            lines.append(line)
    return lines


# --------------------------------------------------------------------------- log-cache


def _log_cache_url(cf: CloudFoundry) -> str | None:
    info = cf.info()
    if info.get("log_cache_endpoint"):
        return str(info["log_cache_endpoint"]).rstrip("/")
    try:
        r = cf.session.get(f"{cf.api}/", headers={"Accept": "application/json"})
        if r.status_code != 200:
            return None
        href = ((r.json().get("links") or {}).get("log_cache") or {}).get("href")
        return str(href).rstrip("/") if href else None
    except (requests.RequestException, ValueError, AttributeError):
        return None


def _from_log_cache(cf: CloudFoundry, app_guid: str) -> list[LogLine]:
    base = _log_cache_url(cf)
    if not base:
        raise LogsError(f"recent logs for app {app_guid}: doppler recentlogs unavailable and no log-cache advertised")
    params = {"start_time": "0", "envelope_types": "LOG", "limit": "1000", "descending": "true"}
    try:
        r = _get_with_refresh(cf, f"{base}/api/v1/read/{app_guid}", params=params)
        if r.status_code == 404:  # log-cache < 2.0 serves /v1
            r = _get_with_refresh(cf, f"{base}/v1/read/{app_guid}", params=params)
    except requests.RequestException as e:
        raise LogsError(f"recent logs for app {app_guid}: log-cache unreachable: {e}")
    if r.status_code != 200:
        raise LogsError(f"log-cache read for app {app_guid}: unexpected status code {r.status_code}")
    try:
        batch = (r.json().get("envelopes") or {}).get("batch") or []
    except (ValueError, AttributeError):
        raise LogsError(f"log-cache read for app {app_guid}: response is not JSON")
    lines = []
    for env in reversed(batch):  # descending -> oldest first
        lg = env.get("log")
        if not isinstance(lg, dict):
            continue
        try:
            payload = base64.b64decode(lg.get("payload") or "").decode("utf-8", "replace")
        except ValueError:
            payload = str(lg.get("payload"))
        tags = env.get("tags") or {}
        lines.append(LogLine(int(env.get("timestamp") or 0), str(tags.get("source_type", "")),
                             str(env.get("instance_id", "")), payload.rstrip("\n"),
                             "ERR" if lg.get("type") == "ERR" else "OUT"))
    return lines


def doppler_endpoint(cf: CloudFoundry) -> str | None:
    """`doppler_logging_endpoint` of /v2/info (wss://doppler.<domain>:4443 on a BOSH-Lite);
    from `logging_endpoint` as the legacy cf CLI derived it when absent."""
    info = cf.info()
    endpoint = info.get("doppler_logging_endpoint")
    if not endpoint and info.get("logging_endpoint"):
        endpoint = str(info["logging_endpoint"]).replace("loggregator", "doppler", 1)
    return str(endpoint) if endpoint else None


def recent_logs(cf: CloudFoundry, app_guid: str) -> list[LogLine]:
    """Recent log lines of an app, oldest first: doppler if the CF has it, else log-cache."""
    endpoint = doppler_endpoint(cf)
    lines = _from_doppler(cf, endpoint, app_guid) if endpoint else None
    if lines is None:
        lines = _from_log_cache(cf, app_guid)
    return sorted(lines, key=lambda ln: ln.timestamp_ns)


# --------------------------------------------------------------------------- streaming


class LogStream:
    """An open doppler stream of one app: yields `LogLine`s until `stop()` (from any thread),
    the server closes the stream, or it breaks (`LogsError`, naming the app and why).

    It connects through the config's resolve map and TLS settings (the CA, or skip), with the
    CF token (refreshed once on a 401 handshake), answers the server's keep-alive pings on
    its own, and never blocks a `stop()` for more than `poll` seconds. Lines are those
    emitted after the stream opened; the server does not replay older ones."""

    def __init__(self, cf: CloudFoundry, app_guid: str, *, connect_timeout: float = 10.0,
                 poll: float = 0.25, url: str | None = None) -> None:
        self.cf = cf
        self.app_guid = app_guid
        self.connect_timeout = connect_timeout
        self.poll = poll
        self._stopped = threading.Event()
        base = url or doppler_endpoint(cf)
        if not base:
            raise LogsError(f"streaming logs of app {app_guid}: CF advertises no doppler_logging_endpoint")
        self.url = f"{base.rstrip('/')}/apps/{app_guid}/stream"
        self._conn: ClientConnection | None = None
        self._exits = ExitStack()

    # -- lifetime ------------------------------------------------------------------

    def open(self) -> LogStream:
        """Connect (handshake done when this returns); a 401 refreshes the token once."""
        for attempt in (0, 1):
            try:
                self._conn = self._connect()
                return self
            except InvalidStatus as e:
                status = e.response.status_code
                if status == 401 and attempt == 0:
                    self.cf.refresh()
                    continue
                body = e.response.body.decode("utf-8", "replace").strip()[:200] if e.response.body else ""
                raise LogsError(f"streaming logs of app {self.app_guid}: {self._where()} answered {status}"
                                + (f": {body}" if body else ""))
            except (OSError, TimeoutError, WebSocketException) as e:
                raise LogsError(f"streaming logs of app {self.app_guid}: cannot open {self._where()}: "
                                f"{REDACTOR.redact(e)}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def _connect(self) -> ClientConnection:
        parts = urlsplit(self.url)
        secure = parts.scheme in ("wss", "https")
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        resolver: Resolver = self.cf.resolver or Resolver()
        sock = resolver.create_connection(host, port, timeout=self.connect_timeout)
        uri = f"{'wss' if secure else 'ws'}://{parts.netloc}{parts.path}"
        try:
            # entered as a context manager, which every websockets release since 13 supports
            return self._exits.enter_context(connect(
                uri, sock=sock, ssl=make_ssl_context(self.cf.config.tls) if secure else None,
                server_hostname=host if secure else None, additional_headers=self.cf.auth_header(),
                open_timeout=self.connect_timeout, close_timeout=2, compression=None, max_size=2 ** 22,
                user_agent_header=None))
        except BaseException:
            sock.close()
            raise

    def stop(self) -> None:
        """End the iteration (thread-safe) and close the stream."""
        self._stopped.set()
        try:
            self._exits.close()
        except (OSError, WebSocketException):
            pass

    def __enter__(self) -> LogStream:
        return self.open() if self._conn is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading -------------------------------------------------------------------

    def next_line(self, timeout: float) -> LogLine | None:
        """The next log line within `timeout` seconds, or None (timeout, or stopped)."""
        deadline = time.monotonic() + timeout
        while not self._stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            line = self._receive(min(self.poll, left))
            if line is not None:
                return line
        return None

    def __iter__(self) -> Iterator[LogLine]:
        while not self._stopped.is_set():
            line = self._receive(self.poll)
            if line is not None:
                yield line

    def _receive(self, timeout: float) -> LogLine | None:
        if self._conn is None:
            self.open()
        conn = self._conn
        assert conn is not None
        try:
            frame = conn.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosedOK:
            self._stopped.set()
            return None
        except ConnectionClosed as e:
            if self._stopped.is_set():
                return None
            self._stopped.set()
            raise LogsError(f"streaming logs of app {self.app_guid}: the stream broke "
                            f"(close code {e.rcvd.code if e.rcvd else 'none'}"
                            f"{': ' + e.rcvd.reason if e.rcvd and e.rcvd.reason else ''})")
        if isinstance(frame, str):
            raise LogsError(f"streaming logs of app {self.app_guid}: a text frame where doppler sends "
                            "binary envelopes")
        try:
            return decode_envelope(frame)
        except ProtobufError as e:
            raise LogsError(f"streaming logs of app {self.app_guid}: undecodable envelope: {e}")


def stream_logs(cf: CloudFoundry, app_guid: str, **kw: Any) -> LogStream:
    """An open `LogStream` (use it as a context manager, iterate it, `stop()` it)."""
    return LogStream(cf, app_guid, **kw).open()
