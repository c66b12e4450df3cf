"""Log lines on the wire: dropsonde `events.Envelope`, legacy `logmessage.LogMessage`, and
the traffic controller's multipart framing (wire-contracts §5). No log-cache: the era had none."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from helpers import protobuf as pb

LOG_MESSAGE_EVENT = 5  # events.Envelope.EventType.LogMessage
MESSAGE_TYPES = {"OUT": 1, "ERR": 2}
ORIGINS = {"APP": "rep", "CELL": "rep", "STG": "rep", "RTR": "gorouter", "API": "cloud_controller",
           "SSH": "ssh-proxy", "LGR": "loggregator"}


@dataclass(frozen=True)
class LogLine:
    timestamp_ns: int
    app_guid: str
    source_type: str
    source_instance: str
    message: str
    stream: str = "OUT"


def dropsonde_envelope(line: LogLine) -> bytes:
    """events.Envelope{origin, eventType=LogMessage, timestamp, logMessage} (sonde-go)."""
    log_message = (pb.bytes_field(1, line.message)
                   + pb.uint_field(2, MESSAGE_TYPES.get(line.stream, 1))
                   + pb.uint_field(3, line.timestamp_ns)
                   + pb.bytes_field(4, line.app_guid)
                   + pb.bytes_field(5, line.source_type)
                   + pb.bytes_field(6, line.source_instance))
    return (pb.bytes_field(1, ORIGINS.get(line.source_type.split("/")[0], "rep"))
            + pb.uint_field(2, LOG_MESSAGE_EVENT)
            + pb.uint_field(6, line.timestamp_ns)
            + pb.bytes_field(8, log_message))


def legacy_log_message(line: LogLine) -> bytes:
    """loggregatorlib logmessage.LogMessage: timestamp is sint64 (zigzag), source_name field 8."""
    source_name = "App" if line.source_type.startswith("APP") else line.source_type
    return (pb.bytes_field(1, line.message)
            + pb.uint_field(2, MESSAGE_TYPES.get(line.stream, 1))
            + pb.sint_field(3, line.timestamp_ns)
            + pb.bytes_field(4, line.app_guid)
            + pb.bytes_field(6, line.source_instance)
            + pb.bytes_field(8, source_name))


def new_boundary() -> str:
    """60 hex characters, like Go's multipart.Writer (30 random bytes)."""
    return secrets.token_hex(30)


def multipart(parts: list[bytes], boundary: str) -> bytes:
    """Go `multipart.Writer` output with `CreatePart(nil)` parts: no part headers."""
    out = bytearray()
    for i, part in enumerate(parts):
        out += (b"\r\n" if i else b"") + f"--{boundary}\r\n\r\n".encode() + part
    out += (b"\r\n" if parts else b"") + f"--{boundary}--\r\n".encode()
    return bytes(out)
