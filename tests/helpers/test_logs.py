"""Recent logs: dropsonde envelopes built by hand, multipart framing, refresh, log-cache fallback."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import responses

from codec.protobuf import ProtobufError, encode_field, iter_fields
from helpers.cf import CloudFoundry
from helpers.config import CfConfig
from helpers.logs import LogLine, LogsError, decode_envelope, parse_multipart, recent_logs

API = "https://api.bosh-lite.com"
DOPPLER = "https://doppler.bosh-lite.com:443"
LOG_CACHE = "https://log-cache.bosh-lite.com"
GUID = "6064d98a-95e6-400b-bc03-be65e6d59622"
BOUNDARY = "a" * 60


def log_envelope(message: str, ts: int, stream: int = 1, source: str = "APP", instance: str = "0") -> bytes:
    lm = (encode_field(1, message.encode()) + encode_field(2, stream) + encode_field(3, ts)
          + encode_field(4, GUID) + encode_field(5, source) + encode_field(6, instance))
    return encode_field(1, "rep") + encode_field(2, 5) + encode_field(6, ts) + encode_field(8, lm) \
        + encode_field(13, "cf-warden-diego-cell1") + encode_field(16, "10.244.16.2")


def metric_envelope() -> bytes:
    return encode_field(1, "rep") + encode_field(2, 9) + encode_field(12, encode_field(1, GUID))


def multipart(parts: list[bytes]) -> bytes:
    b = BOUNDARY.encode()
    return b"".join(b"--" + b + b"\r\n\r\n" + p + b"\r\n" for p in parts) + b"--" + b + b"--\r\n"


def _cf(info_extra: dict | None = None) -> CloudFoundry:
    info = {"token_endpoint": "https://uaa.bosh-lite.com", "doppler_logging_endpoint": "wss://doppler.bosh-lite.com:443",
            **(info_extra or {})}
    responses.add(responses.GET, f"{API}/v2/info", json=info)
    responses.add(responses.POST, "https://uaa.bosh-lite.com/oauth/token",
                  json={"access_token": "tok-1", "refresh_token": "tok-1-r", "token_type": "bearer"})
    return CloudFoundry(CfConfig(api=API, admin_user="admin", admin_password="cf-admin-pw"), poll_interval=0.01)


def test_envelope_decoding_and_other_events_ignored():
    line = decode_envelope(log_envelope("nonce n1 index 1", 1_700_000_000_123_456_789, stream=2, instance="1"))
    assert line == LogLine(1_700_000_000_123_456_789, "APP", "1", "nonce n1 index 1", "ERR")
    assert decode_envelope(metric_envelope()) is None
    with pytest.raises(ProtobufError):
        list(iter_fields(encode_field(1, "abc")[:-1]))


def test_multipart_parts_with_and_without_headers():
    body = multipart([b"one", b"two\r\nwith crlf"])
    assert parse_multipart(f"multipart/x-protobuf; boundary={BOUNDARY}", body) == [b"one", b"two\r\nwith crlf"]
    with_headers = b"--" + BOUNDARY.encode() + b"\r\nContent-Type: x\r\n\r\nbody\r\n--" + BOUNDARY.encode() + b"--"
    assert parse_multipart(f'multipart/x-protobuf; boundary="{BOUNDARY}"', with_headers) == [b"body"]
    with pytest.raises(LogsError, match="no multipart boundary"):
        parse_multipart("application/octet-stream", body)


@responses.activate
def test_doppler_recent_logs_sorted_by_timestamp():
    cf = _cf()
    body = multipart([log_envelope("second", 2_000), metric_envelope(), log_envelope("first", 1_000, source="STG")])
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", body=body,
                  content_type=f"multipart/x-protobuf; boundary={BOUNDARY}")
    lines = recent_logs(cf, GUID)
    assert [(ln.message, ln.source_type) for ln in lines] == [("first", "STG"), ("second", "APP")]
    call = next(c for c in responses.calls if "recentlogs" in c.request.url)
    assert call.request.headers["Authorization"] == "bearer tok-1"


@responses.activate
def test_doppler_401_refreshes_once():
    cf = _cf()
    url = f"{DOPPLER}/apps/{GUID}/recentlogs"
    responses.add(responses.GET, url, body="expired", status=401)
    responses.add(responses.GET, url, body=multipart([log_envelope("hello", 5)]),
                  content_type=f"multipart/x-protobuf; boundary={BOUNDARY}")
    assert [ln.message for ln in recent_logs(cf, GUID)] == ["hello"]
    grants = [c.request.body for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert len(grants) == 2 and "grant_type=refresh_token" in grants[1]


def _log_cache_batch() -> dict:
    def env(ts: int, msg: str, typ: str | None) -> dict:
        lg = {"payload": base64.b64encode(msg.encode()).decode()}
        if typ:
            lg["type"] = typ
        return {"timestamp": str(ts), "source_id": GUID, "instance_id": "1",
                "tags": {"source_type": "APP/PROC/WEB"}, "log": lg}
    # descending order, as requested; an OUT log has no "type" in JSON (proto3 default 0)
    return {"envelopes": {"batch": [env(30, "third", "ERR"), env(20, "second", None), env(10, "first", None)]}}


@responses.activate
def test_fallback_to_log_cache_on_404():
    cf = _cf()
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", status=404)
    responses.add(responses.GET, f"{API}/", json={"links": {"log_cache": {"href": LOG_CACHE}}})
    responses.add(responses.GET, f"{LOG_CACHE}/api/v1/read/{GUID}", json=_log_cache_batch())
    lines = recent_logs(cf, GUID)
    assert [(ln.message, ln.stream, ln.source_instance) for ln in lines] == \
        [("first", "OUT", "1"), ("second", "OUT", "1"), ("third", "ERR", "1")]
    read = next(c for c in responses.calls if "/api/v1/read/" in c.request.url)
    assert "descending=true" in read.request.url and "envelope_types=LOG" in read.request.url


@responses.activate
def test_fallback_on_connection_failure():
    cf = _cf()
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", body=requests.ConnectionError("refused"))
    responses.add(responses.GET, f"{API}/", json={"links": {"log_cache": {"href": LOG_CACHE}}})
    responses.add(responses.GET, f"{LOG_CACHE}/api/v1/read/{GUID}", json=_log_cache_batch())
    assert len(recent_logs(cf, GUID)) == 3


@responses.activate
def test_no_log_cache_either_is_a_clear_error():
    cf = _cf()
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", status=404)
    responses.add(responses.GET, f"{API}/", status=404, body=json.dumps({"code": 10000}))
    with pytest.raises(LogsError, match="no log-cache advertised"):
        recent_logs(cf, GUID)


@responses.activate
def test_doppler_server_error_is_reported_not_hidden():
    cf = _cf()
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", status=500, body="boom")
    with pytest.raises(LogsError, match="500"):
        recent_logs(cf, GUID)


@responses.activate
def test_doppler_derived_from_legacy_logging_endpoint():
    cf = _cf({"doppler_logging_endpoint": None, "logging_endpoint": "wss://loggregator.bosh-lite.com:443"})
    responses.add(responses.GET, f"{DOPPLER}/apps/{GUID}/recentlogs", body=multipart([log_envelope("legacy", 1)]),
                  content_type=f"multipart/x-protobuf; boundary={BOUNDARY}")
    assert [ln.message for ln in recent_logs(cf, GUID)] == ["legacy"]
