"""An SSH server's first words read straight off the socket, with no SSH library involved.

RFC 4253: the server sends its identification line (`SSH-2.0-...`, possibly after other
lines), then its first binary packet is SSH_MSG_KEXINIT: uint32 packet length, byte padding
length, payload, padding, and no MAC yet. The payload is the message number 20, a 16-byte
cookie, ten comma-separated name-lists, a boolean and a reserved uint32. This is what the
tests compare between the simulator's proxy and the era's real server, so it must not share
code with either (paramiko is the simulator's own library).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

MSG_KEXINIT = 20
CLIENT_IDENTIFICATION = b"SSH-2.0-kexinit-reader\r\n"
NAME_LISTS = ("kex", "host_key", "ciphers_c2s", "ciphers_s2c", "macs_c2s", "macs_s2c",
              "compression_c2s", "compression_s2c", "languages_c2s", "languages_s2c")


@dataclass(frozen=True)
class ServerHello:
    identification: str  # the server's SSH-2.0-... line, without CR LF
    lists: dict[str, tuple[str, ...]]  # NAME_LISTS -> names, in the server's order
    first_kex_packet_follows: bool
    reserved: int


class WireError(AssertionError):
    """The server's bytes are not what RFC 4253 says they must be."""


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise WireError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def _identification(sock: socket.socket) -> str:
    line = b""
    while True:
        byte = _exactly(sock, 1)
        line += byte
        if byte == b"\n":
            text = line.rstrip(b"\r\n").decode("utf-8", "replace")
            if text.startswith("SSH-"):
                if not line.endswith(b"\r\n"):
                    raise WireError(f"identification {line!r} does not end with CR LF")
                return text
            line = b""  # RFC 4253 4.2: other lines may come first
        if len(line) > 255:
            raise WireError(f"identification line longer than 255 bytes: {line[:80]!r}...")


def parse_kexinit(payload: bytes) -> tuple[dict[str, tuple[str, ...]], bool, int]:
    if not payload or payload[0] != MSG_KEXINIT:
        raise WireError(f"first packet is message {payload[:1]!r}, not KEXINIT ({MSG_KEXINIT})")
    offset = 1 + 16  # message number, cookie
    lists: dict[str, tuple[str, ...]] = {}
    for name in NAME_LISTS:
        (length,) = struct.unpack_from(">I", payload, offset)
        offset += 4
        raw = payload[offset:offset + length]
        if len(raw) != length:
            raise WireError(f"name-list {name} runs past the end of the packet")
        offset += length
        lists[name] = tuple(raw.decode("ascii").split(",")) if raw else ()
    follows = payload[offset] != 0
    (reserved,) = struct.unpack_from(">I", payload, offset + 1)
    if offset + 5 != len(payload):
        raise WireError(f"{len(payload) - offset - 5} unexpected bytes after the KEXINIT fields")
    return lists, follows, reserved


def read_server_hello(host: str, port: int, timeout: float = 10.0) -> ServerHello:
    """Connect, send a client identification, read the server's identification and KEXINIT."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(CLIENT_IDENTIFICATION)
        identification = _identification(sock)
        (packet_length,) = struct.unpack(">I", _exactly(sock, 4))
        if not 5 <= packet_length <= 35000:
            raise WireError(f"implausible packet length {packet_length}")
        packet = _exactly(sock, packet_length)
        padding = packet[0]
        if padding < 4 or (packet_length + 4) % 8:
            raise WireError(f"padding {padding} / length {packet_length} break RFC 4253 section 6")
        lists, follows, reserved = parse_kexinit(packet[1:packet_length - padding])
    return ServerHello(identification, lists, follows, reserved)
