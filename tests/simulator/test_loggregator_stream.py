"""The traffic controller's websocket stream, judged by a client written here from RFC 6455
alone (handshake §4, framing §5), independent of the `websockets` library the simulator and
the suite's client use, so that a framing bug they share cannot pass: the client itself is
first checked against the RFC's own examples (§1.3 accept key, §5.7 frames)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from pathlib import Path

import pytest

from simulator.loggregator.stream import KEEPALIVE_TIMEOUT_REASON, StreamServer
from tests.simulator.dropsonde_wire import decode_message
from tests.simulator.test_loggregator import Env, env  # noqa: F401  (env: fixture)

GUID_MAGIC = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID_MAGIC).encode()).digest()).decode()


def encode_frame(opcode: int, payload: bytes, mask: bytes | None) -> bytes:
    """A final frame; client frames are masked (§5.3)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def decode_frame(data: bytes) -> tuple[int, bool, bytes, int]:
    """(opcode, fin, payload, bytes used) of the first frame in data (§5.2)."""
    fin, opcode = bool(data[0] & 0x80), data[0] & 0x0F
    masked, n = bool(data[1] & 0x80), data[1] & 0x7F
    pos = 2
    if n == 126:
        n, pos = struct.unpack("!H", data[2:4])[0], 4
    elif n == 127:
        n, pos = struct.unpack("!Q", data[2:10])[0], 10
    mask = data[pos:pos + 4] if masked else None
    pos += 4 if masked else 0
    payload = data[pos:pos + n]
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, fin, payload, pos + n


def test_the_independent_client_agrees_with_rfc_6455_examples() -> None:
    assert accept_for(RFC_KEY) == RFC_ACCEPT
    hello_unmasked = bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    hello_masked = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    assert encode_frame(0x1, b"Hello", None) == hello_unmasked
    assert encode_frame(0x1, b"Hello", bytes([0x37, 0xFA, 0x21, 0x3D])) == hello_masked
    assert decode_frame(hello_masked)[:3] == (0x1, True, b"Hello")
    assert decode_frame(bytes([0x89, 0x05]) + b"Hello")[:3] == (0x9, True, b"Hello")  # unmasked ping
    assert encode_frame(0x2, b"\0" * 256, None)[:4] == bytes([0x82, 0x7E, 0x01, 0x00])  # 256 bytes binary


class RawClient:
    def __init__(self, address: tuple[str, int], path: str, token: str | None, key: str = RFC_KEY) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        auth = f"Authorization: bearer {token}\r\n" if token else ""
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: doppler.bosh-lite.com:4443\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{auth}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status_line, *lines = head.decode().split("\r\n")
        self.headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}

    def body(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        return self.buf[:n]

    def frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                try:
                    opcode, _, payload, used = decode_frame(self.buf)
                except (IndexError, struct.error):
                    used = len(self.buf) + 1
                if used <= len(self.buf):
                    self.buf = self.buf[used:]
                    return opcode, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def data_frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next non-control frame, answering pings with (masked) pongs."""
        while True:
            opcode, payload = self.frame(timeout)
            if opcode == 0x9:
                self.sock.sendall(encode_frame(0xA, payload, os.urandom(4)))
                continue
            return opcode, payload


def test_stream_handshake_and_binary_envelope_frames(env: Env) -> None:  # noqa: F811
    client = RawClient(env.logs.upgrade_address, f"/apps/{env.app.guid}/stream", env.token)
    assert client.status_line.startswith("HTTP/1.1 101")
    assert client.headers["sec-websocket-accept"] == RFC_ACCEPT
    assert client.headers["upgrade"].lower() == "websocket"
    assert "sec-websocket-extensions" not in client.headers  # gorilla of 2015: no compression
    env.logs.emit(env.app.guid, "APP", "1", "streamed line")
    opcode, payload = client.data_frame()
    assert opcode == 0x2  # binary
    envelope = decode_message(payload)
    assert envelope[2] == [5]
    log = decode_message(envelope[8][0])
    assert log[1] == [b"streamed line"] and log[5] == [b"APP"] and log[6] == [b"1"]
    client.sock.close()


def test_stream_refusals_are_plain_http_before_the_handshake(env: Env) -> None:  # noqa: F811
    denied = RawClient(env.logs.upgrade_address, f"/apps/{env.app.guid}/stream", None)
    assert denied.status_line.startswith("HTTP/1.1 401")
    assert denied.headers["www-authenticate"] == "Basic"
    expected = b"You are not authorized. Error: Authorization not provided"
    assert denied.body(len(expected)) == expected
    other = RawClient(env.logs.upgrade_address, "/apps/x/firehose", env.token)
    assert other.status_line.startswith("HTTP/1.1 404")
    unknown_app = RawClient(env.logs.upgrade_address, "/apps/no-such-app/stream", env.token)
    assert unknown_app.status_line.startswith("HTTP/1.1 401")


def test_keepalive_pings_and_closes_1008_without_pongs(env: Env, tmp_path: Path) -> None:  # noqa: F811
    server = StreamServer(env.logs, keepalive=0.4)
    try:
        silent = RawClient(server.address, f"/apps/{env.app.guid}/stream", env.token)
        assert silent.frame()[0] == 0x9  # the server pings first
        started = time.monotonic()
        opcode, payload = silent.frame(timeout=5)
        assert opcode == 0x8
        assert struct.unpack("!H", payload[:2])[0] == 1008
        assert payload[2:].decode() == KEEPALIVE_TIMEOUT_REASON
        assert time.monotonic() - started >= 0.3

        polite = RawClient(server.address, f"/apps/{env.app.guid}/stream", env.token)
        deadline = time.monotonic() + 1.5  # more than three keep-alive periods
        pings = 0
        while time.monotonic() < deadline:
            try:
                opcode, payload = polite.frame(timeout=0.3)
            except TimeoutError:
                continue
            assert opcode == 0x9, f"stream closed although every ping got its pong: {payload!r}"
            pings += 1
            polite.sock.sendall(encode_frame(0xA, payload, os.urandom(4)))
        assert pings >= 2
        env.logs.emit(env.app.guid, "APP", "0", "still here")
        assert decode_message(decode_message(polite.data_frame()[1])[8][0])[1] == [b"still here"]
        silent.sock.close()
        polite.sock.close()
    finally:
        server.close()


@pytest.mark.parametrize("path", ["/tail/?app={guid}"])
def test_legacy_tail_streams_legacy_log_messages(env: Env, path: str) -> None:  # noqa: F811
    client = RawClient(env.logs.upgrade_address, path.format(guid=env.app.guid), env.token)
    assert client.status_line.startswith("HTTP/1.1 101")
    env.logs.emit(env.app.guid, "APP", "0", "legacy streamed")
    message = decode_message(client.data_frame()[1])
    assert message[1] == [b"legacy streamed"] and message[8] == [b"App"]
