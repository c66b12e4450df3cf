"""A minimal protobuf wire-format reader/writer (varint and length-delimited fields only).

Why hand-written: decoding dropsonde `Envelope`/`LogMessage` needs a few field numbers, and the
`protobuf` package (plus generated code pinned to a protoc version) would be the suite's
heaviest dependency for ~40 lines of work. The writer exists so tests and the simulator can
build envelopes the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ProtobufError", "encode_field", "encode_varint", "iter_fields", "read_varint"]


class ProtobufError(ValueError):
    """Truncated or malformed protobuf bytes."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at `pos`; returns (value, new position)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value): ints for types 0/1/5, bytes for type 2."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = read_varint(buf, pos)
            yield num, wt, val
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            if pos + n > len(buf):
                raise ProtobufError(f"field {num}: length {n} past end of buffer")
            yield num, wt, bytes(buf[pos:pos + n])
            pos += n
        elif wt == 1:
            if pos + 8 > len(buf):
                raise ProtobufError("truncated fixed64")
            yield num, wt, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 5:
            if pos + 4 > len(buf):
                raise ProtobufError("truncated fixed32")
            yield num, wt, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wt} (field {num})")


def to_signed64(value: int) -> int:
    """int64 fields are varints of the two's-complement value."""
    return value - (1 << 64) if value >= 1 << 63 else value


def encode_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_field(num: int, value: int | bytes | str) -> bytes:
    """Encode one field: ints as varints (wire type 0), bytes/str as length-delimited (type 2)."""
    if isinstance(value, int):
        return encode_varint(num << 3) + encode_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return encode_varint(num << 3 | 2) + encode_varint(len(data)) + data
