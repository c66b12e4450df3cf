"""The Loggregator wire, checked three ways: the tests' own reader (dropsonde_wire.py) against
byte vectors made by hand from the .proto files and the protobuf encoding rules; the shared
codec (`codec/`, which the suite's client reads with and the simulator writes with) against
the same vectors; and the simulator's envelopes through the independent reader. A mistake in
the codec would be shared by client and simulator; here it meets bytes nobody derived from it.
"""

from __future__ import annotations

import re

import pytest

from codec import dropsonde
from codec import protobuf as pb
from simulator.loggregator.encoding import LogLine, dropsonde_envelope, legacy_log_message
from tests.simulator import dropsonde_wire as wire
from tests.simulator.dropsonde_wire import WireError

# 2015-10-05T16:00:00.123456789Z in nanoseconds, and its varint: 7-bit groups, low first
TS = 1444060800123456789
TS_VARINT = bytes.fromhex("95 9a b3 8b d9 b4 95 85 14")
TS_ZIGZAG_VARINT = bytes.fromhex("aa b4 e6 96 b2 e9 aa 8a 28")  # sint64: 2 * TS

# events.LogMessage{message "hi", message_type ERR, timestamp TS, app_id "g", source_type "APP",
# source_instance "0"}: key = field << 3 | wire type (0 varint, 2 length-delimited)
LOG_MESSAGE_BYTES = (b"\x0a\x02hi"            # 1 message, bytes
                     + b"\x10\x02"            # 2 message_type, enum ERR
                     + b"\x18" + TS_VARINT    # 3 timestamp, int64
                     + b"\x22\x01g"           # 4 app_id
                     + b"\x2a\x03APP"         # 5 source_type
                     + b"\x32\x010")          # 6 source_instance
# events.Envelope{origin "rep", eventType LogMessage (5), timestamp TS, logMessage}
ENVELOPE_BYTES = (b"\x0a\x03rep" + b"\x10\x05" + b"\x30" + TS_VARINT
                  + b"\x42" + bytes([len(LOG_MESSAGE_BYTES)]) + LOG_MESSAGE_BYTES)
# legacy logmessage.LogMessage{message "hi", OUT, timestamp TS (sint64), app_id "g",
# source_id "0", source_name "App"}
LEGACY_BYTES = (b"\x0a\x02hi" + b"\x10\x01" + b"\x18" + TS_ZIGZAG_VARINT + b"\x22\x01g"
                + b"\x32\x010" + b"\x42\x03App")


# --- the tests' reader against the spec ----------------------------------------------------


def test_reader_reads_the_encoding_documents_examples():
    assert wire.read_varint(b"\x01", 0) == (1, 1)
    assert wire.read_varint(b"\x96\x01", 0) == (150, 2)  # the protobuf encoding guide's example
    assert wire.read_varint(b"\xac\x02", 0) == (300, 2)
    assert wire.read_varint(TS_VARINT, 0) == (TS, 9)
    minus_one = b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes of two's complement
    assert wire.as_int64(wire.read_varint(minus_one, 0)[0]) == -1
    # sint64 zigzag table of the encoding guide
    for raw, value in ((0, 0), (1, -1), (2, 1), (3, -2), (4294967294, 2147483647), (4294967295, -2147483648)):
        assert wire.unzigzag(raw) == value
    assert wire.unzigzag(wire.read_varint(TS_ZIGZAG_VARINT, 0)[0]) == TS


def test_reader_decodes_the_hand_made_messages():
    env = wire.envelope(ENVELOPE_BYTES)
    assert env == {"origin": "rep", "eventType": 5, "timestamp": TS, "logMessage": {
        "message": b"hi", "message_type": 2, "timestamp": TS, "app_id": "g", "source_type": "APP",
        "source_instance": "0"}}
    assert wire.EVENT_TYPES[env["eventType"]] == "LogMessage"
    assert wire.legacy_log_message(LEGACY_BYTES) == {"message": b"hi", "message_type": 1, "timestamp": TS,
                                                     "app_id": "g", "source_id": "0", "source_name": "App"}


@pytest.mark.parametrize(("data", "problem"), [
    (b"\x08\x01", "origin (field 1) has wire type 0"),      # a string sent as a varint
    (b"\x10", "varint runs past the end"),                  # key without its value
    (b"\x0a\x05rep", "5 bytes announced, 3 left"),
    (b"\x18" + b"\xff" * 11, "longer than ten bytes"),
    (b"\x1a\x00", "field 3 is not in the schema"),
    (b"\x0b", "wire type 3"),                               # groups: not in these messages
])
def test_reader_refuses_what_the_schema_does_not_allow(data, problem):
    with pytest.raises(WireError, match=re.escape(problem)):
        wire.envelope(data)


# --- the shared codec against the same vectors ---------------------------------------------


def test_codec_writes_the_hand_made_bytes():
    message = dropsonde.log_message("hi", "ERR", TS, "g", "APP", "0")
    assert message == LOG_MESSAGE_BYTES
    assert dropsonde.log_envelope("rep", TS, message) == ENVELOPE_BYTES
    assert dropsonde.legacy_log_message("hi", "OUT", TS, "g", "0", "App") == LEGACY_BYTES


def test_codec_reads_the_hand_made_bytes():
    fields = [(n, wt) for n, wt, _ in pb.iter_fields(ENVELOPE_BYTES)]
    assert fields == [(1, 2), (2, 0), (6, 0), (8, 2)]
    timestamps = [v for n, _, v in pb.iter_fields(LOG_MESSAGE_BYTES) if n == 3]
    assert timestamps == [TS]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**35, TS, 2**63 - 1, -1, -300, -(2**63)])
def test_codec_and_reader_agree_on_integers(value):
    as_int64 = pb.varint(value)
    assert wire.as_int64(wire.read_varint(as_int64, 0)[0]) == value
    assert pb.to_signed64(pb.read_varint(as_int64, 0)[0]) == value
    if value < 0:
        assert len(as_int64) == 10  # int64 negatives: ten-byte two's complement varints
    zigzagged = pb.varint(pb.zigzag(value))
    assert wire.unzigzag(wire.read_varint(zigzagged, 0)[0]) == value


def test_a_codec_mistake_shared_by_both_sides_is_caught(monkeypatch):
    """Attack: a codec that forgets zigzag writes and reads its own bytes back fine, so the
    client and the simulator would agree; the independent reader does not."""
    monkeypatch.setattr(pb, "zigzag", lambda value: value)
    broken = dropsonde.legacy_log_message("hi", "OUT", TS, "g", "0", "App")
    assert broken != LEGACY_BYTES
    assert wire.legacy_log_message(broken)["timestamp"] != TS


# --- the simulator's envelopes through the independent reader ------------------------------


def test_the_simulators_envelopes_are_the_eras():
    line = LogLine(TS, "app-guid", "RTR", "1", "GET / 200", "OUT")
    env = wire.envelope(dropsonde_envelope(line))
    assert env == {"origin": "gorouter", "eventType": 5, "timestamp": TS, "logMessage": {
        "message": b"GET / 200", "message_type": 1, "timestamp": TS, "app_id": "app-guid",
        "source_type": "RTR", "source_instance": "1"}}
    app_line = LogLine(TS, "app-guid", "APP", "0", "oops", "ERR")
    assert wire.legacy_log_message(legacy_log_message(app_line)) == {
        "message": b"oops", "message_type": 2, "timestamp": TS, "app_id": "app-guid", "source_id": "0",
        "source_name": "App"}
