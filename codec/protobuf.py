"""A minimal protobuf wire-format reader/writer (varints, fixed64/32 read, length-delimited).

Why hand-written: decoding dropsonde `Envelope`/`LogMessage` needs a few field numbers, and the
`protobuf` package (plus generated code pinned to a protoc version) would be the suite's
heaviest dependency for ~40 lines of work. The suite's client (helpers/logs.py) reads with it,
the simulator's Loggregator writes with it (through `codec.dropsonde`), so reader and writer
are one module and one definition of the wire format; a mistake here would be shared by both
sides, which is why the simulator's tests decode with a decoder of their own
(tests/simulator/dropsonde_wire.py), written from the .proto files and hand-made byte vectors.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ProtobufError", "bytes_field", "encode_field", "iter_fields", "read_varint", "sint_field",
           "uint_field", "varint", "zigzag"]


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


def encode_field(num: int, value: int | bytes | str) -> bytes:
    """Encode one field: ints as varints (wire type 0), bytes/str as length-delimited (type 2)."""
    return uint_field(num, value) if isinstance(value, int) else bytes_field(num, value)
