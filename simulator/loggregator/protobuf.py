"""A tiny protocol-buffers writer (proto2 wire format): just what the log envelopes need.

The simulator must not depend on protobuf; varints and length-delimited fields are a few
lines each (https://protobuf.dev/programming-guides/encoding/).
"""

from __future__ import annotations

VARINT = 0
LENGTH_DELIMITED = 2


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> int:
    """sint64 encoding: small magnitudes of either sign become small varints."""
    return (value << 1) ^ (value >> 63)


def key(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def uint_field(field: int, value: int) -> bytes:
    return key(field, VARINT) + varint(value)


def sint_field(field: int, value: int) -> bytes:
    return key(field, VARINT) + varint(zigzag(value))


def bytes_field(field: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return key(field, LENGTH_DELIMITED) + varint(len(data)) + data
