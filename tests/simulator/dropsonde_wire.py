"""An independent reader of the Loggregator messages the simulator sends, for its tests.

Written from the era's .proto files and the protobuf encoding rules, not from `codec/` (which
both the suite's client and the simulator use, so a mistake there would be shared by both and
invisible to either): a test that decodes the simulator's bytes with this reader catches it.
tests/simulator/test_dropsonde_wire.py holds this reader to byte vectors made by hand.

The schemas (field number -> name, type), from the definitions the era's releases pinned:
* dropsonde-protocol@4ab27a7 (sonde-go@3d364d9, loggregator@2d0eb57, cf v220) and @da28d58
  (cf v231), events/envelope.proto:25-43 and events/log.proto:15-20 (the same at both);
* loggregatorlib@8c18c3c (v220) and b5592b0 (v231), logmessage/log_message.proto:9-15.

Wire types (protobuf encoding): 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit;
a key is the varint `field_number << 3 | wire_type`. `int64` is the varint of the 64-bit two's
complement; `sint64` is zigzag: `n` is sent as `2n` when n >= 0, `-2n - 1` when n < 0.
"""

from __future__ import annotations

from typing import Any

# (name, type): type is a scalar kind or a nested schema
LOG_MESSAGE = {1: ("message", "bytes"), 2: ("message_type", "enum"), 3: ("timestamp", "int64"),
               4: ("app_id", "string"), 5: ("source_type", "string"), 6: ("source_instance", "string")}
ENVELOPE = {1: ("origin", "string"), 2: ("eventType", "enum"), 6: ("timestamp", "int64"),
            13: ("deployment", "string"), 14: ("job", "string"), 15: ("index", "string"), 16: ("ip", "string"),
            4: ("httpStart", "message"), 5: ("httpStop", "message"), 7: ("httpStartStop", "message"),
            8: ("logMessage", LOG_MESSAGE), 9: ("valueMetric", "message"), 10: ("counterEvent", "message"),
            11: ("error", "message"), 12: ("containerMetric", "message")}
LEGACY_LOG_MESSAGE = {1: ("message", "bytes"), 2: ("message_type", "enum"), 3: ("timestamp", "sint64"),
                      4: ("app_id", "string"), 6: ("source_id", "string"), 7: ("drain_urls", "repeated string"),
                      8: ("source_name", "string")}
EVENT_TYPES = {2: "HttpStart", 3: "HttpStop", 4: "HttpStartStop", 5: "LogMessage", 6: "ValueMetric",
               7: "CounterEvent", 8: "Error", 9: "ContainerMetric"}
MESSAGE_TYPES = {1: "OUT", 2: "ERR"}
VARINT_KINDS = {"int64", "sint64", "enum"}
LENGTH_KINDS = {"bytes", "string", "message", "repeated string"}


class WireError(AssertionError):
    """The bytes are not what the schema allows."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at `pos`: 7 bits per byte, low first,
    high bit set on every byte but the last; at most ten bytes for 64 bits."""
    value = 0
    for count in range(10):
        if pos >= len(data):
            raise WireError("varint runs past the end")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * count)
        if byte < 0x80:
            return value, pos
    raise WireError("varint longer than ten bytes")


def as_int64(raw: int) -> int:
    return raw - (1 << 64) if raw >> 63 else raw


def unzigzag(raw: int) -> int:
    return raw // 2 if raw % 2 == 0 else -(raw + 1) // 2


def raw_fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order; the value is an int for wire types
    0/1/5 and bytes for 2."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise WireError(f"field {number}: {length} bytes announced, {len(data) - pos} left")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise WireError(f"field {number}: fixed value runs past the end")
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        else:
            raise WireError(f"field {number}: wire type {wire} is not used by proto2 scalars")
        out.append((number, wire, value))
    return out


def decode(data: bytes, schema: dict[int, tuple[str, Any]]) -> dict[str, Any]:
    """The fields the schema knows, by name; a field of the wrong wire type, or one the
    schema does not know, is an error (the simulator must send exactly the era's messages)."""
    result: dict[str, Any] = {}
    for number, wire, value in raw_fields(data):
        if number not in schema:
            raise WireError(f"field {number} is not in the schema")
        name, kind = schema[number]
        expected = 2 if isinstance(kind, dict) or kind in LENGTH_KINDS else 0
        if wire != expected:
            raise WireError(f"{name} (field {number}) has wire type {wire}, the schema says {expected}")
        if isinstance(kind, dict):
            result[name] = decode(value, kind)
        elif kind == "int64":
            result[name] = as_int64(value)
        elif kind == "sint64":
            result[name] = unzigzag(value)
        elif kind == "string":
            result[name] = value.decode("utf-8")
        elif kind == "repeated string":
            result.setdefault(name, []).append(value.decode("utf-8"))
        else:  # enum, bytes, nested message left raw
            result[name] = value
    return result


def envelope(data: bytes) -> dict[str, Any]:
    return decode(data, ENVELOPE)


def legacy_log_message(data: bytes) -> dict[str, Any]:
    return decode(data, LEGACY_LOG_MESSAGE)


def decode_message(data: bytes) -> dict[int, list[Any]]:
    """Field number -> raw values, for tests that look at the wire itself."""
    fields: dict[int, list[Any]] = {}
    for number, _wire, value in raw_fields(data):
        fields.setdefault(number, []).append(value)
    return fields
