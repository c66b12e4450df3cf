"""Log lines on the wire: which dropsonde `events.Envelope` / legacy `logmessage.LogMessage`
the traffic controller sends for a line (the messages themselves: `codec.dropsonde`), and its
multipart framing (wire-contracts §5). No log-cache: the era had none."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from codec import dropsonde

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
    message = dropsonde.log_message(line.message, line.stream, line.timestamp_ns, line.app_guid,
                                    line.source_type, line.source_instance)
    return dropsonde.log_envelope(ORIGINS.get(line.source_type.split("/")[0], "rep"), line.timestamp_ns, message)


def legacy_log_message(line: LogLine) -> bytes:
    """loggregatorlib logmessage.LogMessage: an app's own lines are named `App`."""
    source_name = "App" if line.source_type.startswith("APP") else line.source_type
    return dropsonde.legacy_log_message(line.message, line.stream, line.timestamp_ns, line.app_guid,
                                        line.source_instance, source_name)


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
