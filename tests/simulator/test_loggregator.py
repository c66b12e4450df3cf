"""Loggregator of cf v220/v231 at the HTTP level: doppler multipart protobuf, legacy /recent,
the traffic controller's 401/404 answers and its CC log-access check; no log-cache.

The envelopes are decoded by an independent decoder (dropsonde_wire.py) written from the
era's .proto files, not by the codec the simulator encodes with.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from werkzeug.test import Client

from simulator.cloudcontroller import attach as attach_cc
from simulator.loggregator import attach as attach_logs
from tests.simulator.dropsonde_wire import decode_message, read_varint, unzigzag
from tests.simulator.test_cc_fakes import FakeWorld, bearer, make_world, password_token


def split_multipart(body: bytes, content_type: str) -> list[bytes]:
    m = re.search(r"boundary=(.*)", content_type)
    assert m, content_type
    boundary = m.group(1).encode()
    assert re.fullmatch(rb"[0-9a-f]{60}", boundary)
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n\r\n"), "parts carry no headers"
        parts.append(chunk[4:-2] if chunk.endswith(b"\r\n") else chunk[4:])
    return parts


# ------------------------------------------------------------------ fixtures


class Env:
    def __init__(self, fw: FakeWorld) -> None:
        self.fw = fw
        self.logs = fw.world.components["logs"]
        self.client = Client(self.logs.wsgi)
        self.token = password_token(Client(fw.world.components["uaa"].wsgi))["access_token"]
        cc = fw.world.components["cc"]
        org = cc.spaces.create_org({"name": "o"})
        space = cc.spaces.create_space({"name": "s", "organization_guid": org.guid})
        self.app = cc.apps.create_app({"name": "acc-app", "space_guid": space.guid}, {})
        self.logs.forget(self.app.guid)  # drop CC's "Created app" API line


@pytest.fixture
def env(tmp_path: Path) -> Env:
    fw = make_world(tmp_path)
    attach_cc(fw.world)
    attach_logs(fw.world)
    return Env(fw)


def test_recentlogs_multipart_dropsonde_envelopes(env: Env) -> None:
    before = time.time_ns()
    env.logs.emit(env.app.guid, "APP", "0", "hello world\n")
    env.logs.emit(env.app.guid, "STG", "0", "staging failed", "ERR")
    resp = env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer(env.token))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("multipart/x-protobuf; boundary=")
    parts = split_multipart(resp.get_data(), resp.headers["Content-Type"])
    assert len(parts) == 2
    envelopes = [decode_message(p) for p in parts]
    first = envelopes[0]
    assert first[1] == [b"rep"]  # origin
    assert first[2] == [5]  # eventType LogMessage
    log = decode_message(first[8][0])
    assert log[1] == [b"hello world"]
    assert log[2] == [1]  # OUT
    assert before <= log[3][0] <= time.time_ns()
    assert first[6] == log[3]
    assert log[4] == [env.app.guid.encode()]
    assert log[5] == [b"APP"] and log[6] == [b"0"]
    second = decode_message(envelopes[1][8][0])
    assert second[2] == [2] and second[5] == [b"STG"]
    assert second[3][0] > log[3][0]


def test_recentlogs_empty_and_errors(env: Env) -> None:
    resp = env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer(env.token))
    assert resp.status_code == 200
    assert split_multipart(resp.get_data(), resp.headers["Content-Type"]) == []
    missing = env.client.get(f"/apps/{env.app.guid}/recentlogs")
    assert (missing.status_code, missing.get_data(as_text=True)) == (
        401, "You are not authorized. Error: Authorization not provided")
    assert missing.headers["WWW-Authenticate"] == "Basic"
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
    invalid = env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer("x.y.z"))
    assert (invalid.status_code, invalid.get_data(as_text=True)) == (
        401, "You are not authorized. Error: Invalid authorization")
    # an unknown app is CC's 404 on /internal/log_access: the traffic controller says 401
    unknown = env.client.get("/apps/unknown/recentlogs", headers=bearer(env.token))
    assert (unknown.status_code, unknown.get_data(as_text=True)) == (
        401, "You are not authorized. Error: Invalid authorization")
    for path in ("/apps/x/nope", "/api/v1/read/x", "/api/v1/info", "/v2/info", "/"):
        other = env.client.get(path, headers=bearer(env.token))
        assert (other.status_code, other.get_data(as_text=True)) == (404, f"Resource Not Found. {path}")
    plain_stream = env.client.get(f"/apps/{env.app.guid}/stream", headers=bearer(env.token))
    assert plain_stream.status_code == 400  # not a websocket handshake


def test_log_access_is_cc_s_answer_for_this_token(env: Env) -> None:
    env.logs.emit(env.app.guid, "APP", "0", "hello")
    jar = Client(env.logs.wsgi)
    jar.set_cookie("authorization", f"bearer%20{env.token}")
    cookie = jar.get(f"/apps/{env.app.guid}/recentlogs")
    assert cookie.status_code == 200  # doppler_proxy.go: the URL-unescaped `authorization` cookie
    env.fw.stop("api")  # no CC to ask: nobody is authorized
    assert env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer(env.token)).status_code == 401
    env.fw.start("api")
    env.fw.world.faults.inject("expire_tokens")
    assert env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer(env.token)).status_code == 401


def test_legacy_recent_uses_zigzag_timestamps(env: Env) -> None:
    env.logs.emit(env.app.guid, "APP", "1", "legacy line")
    resp = env.client.get(f"/recent?app={env.app.guid}", headers=bearer(env.token))
    assert resp.status_code == 200
    [part] = split_multipart(resp.get_data(), resp.headers["Content-Type"])
    msg = decode_message(part)
    assert msg[1] == [b"legacy line"] and msg[2] == [1]
    ts = unzigzag(msg[3][0])
    assert abs(ts - time.time_ns()) < 60 * 10**9
    assert msg[4] == [env.app.guid.encode()] and msg[6] == [b"1"] and msg[8] == [b"App"]
    assert env.client.get("/recent", headers=bearer(env.token)).get_data(as_text=True) == \
        "Resource Not Found. /recent"  # no app: the legacy translator fails, 404
    dump = env.client.get(f"/dump/?app={env.app.guid}", headers=bearer(env.token))
    assert len(split_multipart(dump.get_data(), dump.headers["Content-Type"])) == 1


def test_ring_is_bounded(env: Env) -> None:
    for i in range(env.logs.ring_size + 5):
        env.logs.emit(env.app.guid, "APP", "0", f"line {i}")
    lines = env.logs.recent(env.app.guid)
    assert len(lines) == env.logs.ring_size
    assert lines[0].message == "line 5"


def test_lines_emitted_while_doppler_is_down_are_lost(env: Env) -> None:
    env.fw.stop("doppler")
    assert env.logs.emit(env.app.guid, "APP", "0", "lost") is False
    env.fw.start("doppler")
    assert env.logs.emit(env.app.guid, "APP", "0", "kept") is True
    assert [ln.message for ln in env.logs.recent(env.app.guid)] == ["kept"]


def test_break_logs_fault_by_app_name(env: Env) -> None:
    env.logs.emit(env.app.guid, "APP", "0", "hello")
    env.fw.world.faults.inject("break_logs", target="other-app", duration=5)
    assert len(env.logs.recent(env.app.guid)) == 1
    env.fw.world.faults.inject("break_logs", target="acc-app", duration=5)
    resp = env.client.get(f"/apps/{env.app.guid}/recentlogs", headers=bearer(env.token))
    assert split_multipart(resp.get_data(), resp.headers["Content-Type"]) == []


def test_cc_api_lines_reach_the_logs(env: Env) -> None:
    cc = env.fw.world.components["cc"]
    cc.apps.update_app(env.app.guid, {"instances": 2}, {})
    messages = [(ln.source_type, ln.message) for ln in env.logs.recent(env.app.guid)]
    assert messages and messages[0][0] == "API" and env.app.guid in messages[0][1]


def test_varint_and_zigzag_against_the_independent_decoder() -> None:
    from codec import protobuf as pb

    for value in (0, 1, 127, 128, 300, 2**35, 1_700_000_000_123_456_789):
        assert read_varint(pb.varint(value), 0) == (value, len(pb.varint(value)))
    for value in (0, -1, 1, -(2**40), 1_700_000_000_123_456_789):
        assert unzigzag(read_varint(pb.varint(pb.zigzag(value)), 0)[0]) == value
    assert read_varint(pb.varint(-1), 0)[0] == 2**64 - 1
