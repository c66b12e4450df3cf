"""The Loggregator messages of cf v220 and v231 on the protobuf wire format.

Field numbers and types, as the era defined them:

* dropsonde `events.Envelope` and `events.LogMessage`: cloudfoundry/dropsonde-protocol
  @4ab27a7:events/envelope.proto:13-43, events/log.proto:7-21 (the `definitions` of
  cloudfoundry/sonde-go@3d364d9, which loggregator@2d0eb57 = cf v220 pins), identical at
  @da28d58 (sonde-go@ae27095, loggregator@cacc328 = cf v231). Timestamps are `int64`
  (plain varints; a negative value is a ten-byte two's complement varint).
* legacy `logmessage.LogMessage` of the `/recent`, `/dump/` and `/tail/` endpoints:
  cloudfoundry/loggregatorlib@8c18c3c:logmessage/log_message.proto:3-16 (v220), unchanged at
  b5592b0 (v231). Its timestamp is `sint64` (zigzag) and its source name is field 8.

Only what the simulator's traffic controller sends is written here: log messages (no HTTP,
metric or error events), with the envelope's `origin`, `eventType`, `timestamp`; and what the
suite's client reads back (`read_envelope`, `read_log_message`): one schema for both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from codec import protobuf as pb

# events.Envelope (envelope.proto:25-39)
ENVELOPE_ORIGIN = 1
ENVELOPE_EVENT_TYPE = 2
ENVELOPE_TIMESTAMP = 6
ENVELOPE_LOG_MESSAGE = 8
LOG_MESSAGE_EVENT = 5  # Envelope.EventType.LogMessage (envelope.proto:18)

# events.LogMessage (log.proto:15-20)
LOG_MESSAGE = 1
LOG_MESSAGE_TYPE = 2
LOG_TIMESTAMP = 3
LOG_APP_ID = 4
LOG_SOURCE_TYPE = 5
LOG_SOURCE_INSTANCE = 6
MESSAGE_TYPES = {"OUT": 1, "ERR": 2}  # LogMessage.MessageType (log.proto:10-13; the same in the legacy one)

# legacy logmessage.LogMessage (log_message.proto:9-15)
LEGACY_MESSAGE = 1
LEGACY_MESSAGE_TYPE = 2
LEGACY_TIMESTAMP = 3  # sint64
LEGACY_APP_ID = 4
LEGACY_SOURCE_ID = 6
LEGACY_SOURCE_NAME = 8


def log_message(message: bytes | str, stream: str, timestamp_ns: int, app_id: str, source_type: str,
                source_instance: str) -> bytes:
    """A marshalled `events.LogMessage`; `stream` is "OUT" or "ERR"."""
    return (pb.bytes_field(LOG_MESSAGE, message)
            + pb.uint_field(LOG_MESSAGE_TYPE, MESSAGE_TYPES[stream])
            + pb.uint_field(LOG_TIMESTAMP, timestamp_ns)
            + pb.bytes_field(LOG_APP_ID, app_id)
            + pb.bytes_field(LOG_SOURCE_TYPE, source_type)
            + pb.bytes_field(LOG_SOURCE_INSTANCE, source_instance))


def log_envelope(origin: str, timestamp_ns: int, marshalled_log_message: bytes) -> bytes:
    """A marshalled `events.Envelope` of event type LogMessage around one log message."""
    return (pb.bytes_field(ENVELOPE_ORIGIN, origin)
            + pb.uint_field(ENVELOPE_EVENT_TYPE, LOG_MESSAGE_EVENT)
            + pb.uint_field(ENVELOPE_TIMESTAMP, timestamp_ns)
            + pb.bytes_field(ENVELOPE_LOG_MESSAGE, marshalled_log_message))


def legacy_log_message(message: bytes | str, stream: str, timestamp_ns: int, app_id: str, source_id: str,
                       source_name: str) -> bytes:
    """A marshalled legacy `logmessage.LogMessage` (no drain URLs)."""
    return (pb.bytes_field(LEGACY_MESSAGE, message)
            + pb.uint_field(LEGACY_MESSAGE_TYPE, MESSAGE_TYPES[stream])
            + pb.sint_field(LEGACY_TIMESTAMP, timestamp_ns)
            + pb.bytes_field(LEGACY_APP_ID, app_id)
            + pb.bytes_field(LEGACY_SOURCE_ID, source_id)
            + pb.bytes_field(LEGACY_SOURCE_NAME, source_name))


# --------------------------------------------------------------------------- reading


STREAMS = {number: name for name, number in MESSAGE_TYPES.items()}


@dataclass(frozen=True)
class LogMessage:
    """An `events.LogMessage` as read off the wire (message bytes as sent)."""

    message: bytes
    message_type: int
    timestamp_ns: int
    source_type: str
    source_instance: str

    @property
    def stream(self) -> str:
        return STREAMS.get(self.message_type, str(self.message_type))


def read_log_message(buf: bytes, envelope_timestamp_ns: int = 0) -> LogMessage:
    """A marshalled `events.LogMessage`; a message without its own timestamp takes the
    envelope's (as the era's CLI showed it)."""
    message, mtype, ts, stype, sinst = b"", MESSAGE_TYPES["OUT"], 0, "", ""
    for num, _wt, val in pb.iter_fields(buf):
        if num == LOG_MESSAGE and isinstance(val, bytes):
            message = val
        elif num == LOG_MESSAGE_TYPE and isinstance(val, int):
            mtype = val
        elif num == LOG_TIMESTAMP and isinstance(val, int):
            ts = pb.to_signed64(val)
        elif num == LOG_SOURCE_TYPE and isinstance(val, bytes):
            stype = val.decode("utf-8", "replace")
        elif num == LOG_SOURCE_INSTANCE and isinstance(val, bytes):
            sinst = val.decode("utf-8", "replace")
    return LogMessage(message, mtype, ts or envelope_timestamp_ns, stype, sinst)


def read_envelope(buf: bytes) -> LogMessage | None:
    """A marshalled `events.Envelope`: its log message, or None for every other event type."""
    event_type, timestamp, log = None, 0, None
    for num, _wt, val in pb.iter_fields(buf):
        if num == ENVELOPE_EVENT_TYPE and isinstance(val, int):
            event_type = val
        elif num == ENVELOPE_TIMESTAMP and isinstance(val, int):
            timestamp = pb.to_signed64(val)
        elif num == ENVELOPE_LOG_MESSAGE and isinstance(val, bytes):
            log = val
    if log is None or (event_type is not None and event_type != LOG_MESSAGE_EVENT):
        return None
    return read_log_message(log, timestamp)
