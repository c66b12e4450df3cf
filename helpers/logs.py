"""Recent app logs: doppler `recentlogs` (multipart dropsonde protobuf), log-cache as fallback.

Why both: CF v220 (the V0 platform) only has the traffic controller's
`/apps/<guid>/recentlogs`; newer CFs drop it for log-cache (`/api/v1/read/<guid>`, JSON).
We try doppler first and fall back on 404/410 or a connection failure (wire-contracts §5, §8).
Order is not guaranteed by either, so lines are sorted by their timestamp.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from helpers.net import HelperError, redacting_logger
from helpers.protobuf import ProtobufError, iter_fields, to_signed64

if TYPE_CHECKING:
    from helpers.cf import CloudFoundry

__all__ = [
    "LogLine",
    "LogsError",
    "decode_envelope",
    "parse_multipart",
    "recent_logs",
]

log = redacting_logger(__name__)

LOG_MESSAGE_EVENT = 5
_STREAMS = {1: "OUT", 2: "ERR"}


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


def decode_log_message(buf: bytes, envelope_ts: int = 0) -> LogLine:
    msg, mtype, ts, stype, sinst = b"", 1, 0, "", ""
    for num, _wt, val in iter_fields(buf):
        if num == 1 and isinstance(val, bytes):
            msg = val
        elif num == 2 and isinstance(val, int):
            mtype = val
        elif num == 3 and isinstance(val, int):
            ts = to_signed64(val)
        elif num == 5 and isinstance(val, bytes):
            stype = val.decode("utf-8", "replace")
        elif num == 6 and isinstance(val, bytes):
            sinst = val.decode("utf-8", "replace")
    return LogLine(ts or envelope_ts, stype, sinst, msg.decode("utf-8", "replace").rstrip("\n"),
                   _STREAMS.get(mtype, str(mtype)))


def decode_envelope(buf: bytes) -> LogLine | None:
    """A dropsonde `events.Envelope`: the LogLine of its logMessage, or None for other events."""
    event_type, env_ts, log_msg = None, 0, None
    for num, _wt, val in iter_fields(buf):
        if num == 2 and isinstance(val, int):
            event_type = val
        elif num == 6 and isinstance(val, int):
            env_ts = to_signed64(val)
        elif num == 8 and isinstance(val, bytes):
            log_msg = val
    if log_msg is None or (event_type is not None and event_type != LOG_MESSAGE_EVENT):
        return None
    return decode_log_message(log_msg, env_ts)


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


def recent_logs(cf: CloudFoundry, app_guid: str) -> list[LogLine]:
    """Recent log lines of an app, oldest first: doppler if the CF has it, else log-cache."""
    info = cf.info()
    endpoint = info.get("doppler_logging_endpoint")
    if not endpoint and info.get("logging_endpoint"):
        # as the legacy cf CLI does: doppler lives next to loggregator
        endpoint = str(info["logging_endpoint"]).replace("loggregator", "doppler", 1)
    lines = _from_doppler(cf, str(endpoint), app_guid) if endpoint else None
    if lines is None:
        lines = _from_log_cache(cf, app_guid)
    return sorted(lines, key=lambda ln: ln.timestamp_ns)
