"""The wire format: server frames encoded right, client frames decoded and policed, close codes."""

from __future__ import annotations

import io
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.client_frames import masked_frame as client_frame
from wsredis_middleware.exceptions import ProtocolError
from wsredis_middleware.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Frame,
    encode_close,
    encode_frame,
    encode_message,
    parse_close,
    read_frame,
)


def parse_server_frame(data: bytes) -> tuple[bool, int, bytes]:
    """What a browser reads from a server frame (which must not be masked)."""
    fin, opcode, length = bool(data[0] & 0x80), data[0] & 0x0F, data[1]
    assert not length & 0x80, "server frames are never masked"
    offset = 2
    if length == 126:
        (length,) = struct.unpack("!H", data[2:4])
        offset = 4
    elif length == 127:
        (length,) = struct.unpack("!Q", data[2:10])
        offset = 10
    payload = data[offset:]
    assert len(payload) == length
    return fin, opcode, payload


SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]


@pytest.mark.parametrize("size", SIZES)
def test_client_frame_round_trip(size):
    payload = os.urandom(size)
    stream = io.BytesIO(client_frame(OP_BINARY, payload) + client_frame(OP_TEXT, b"next"))
    assert read_frame(stream, max_size=1 << 20) == Frame(True, OP_BINARY, payload)
    assert read_frame(stream, max_size=1 << 20) == Frame(True, OP_TEXT, b"next")  # framing stays in sync
    with pytest.raises(EOFError):
        read_frame(stream, max_size=1 << 20)


@given(st.binary(max_size=300), st.booleans(), st.sampled_from([OP_TEXT, OP_BINARY, OP_CONTINUATION]))
def test_client_frame_round_trip_property(payload, fin, opcode):
    assert read_frame(io.BytesIO(client_frame(opcode, payload, fin=fin)), max_size=1000) == (fin, opcode, payload)


@pytest.mark.parametrize("size", SIZES)
def test_server_frame_encoding(size):
    payload = os.urandom(size)
    assert parse_server_frame(encode_frame(OP_BINARY, payload)) == (True, OP_BINARY, payload)
    assert parse_server_frame(encode_frame(OP_TEXT, payload, fin=False)) == (False, OP_TEXT, payload)


@pytest.mark.parametrize(
    ("payload", "opcode"),
    [
        pytest.param(b"hello", OP_TEXT, id="ascii"),
        pytest.param("héllo ✓".encode(), OP_TEXT, id="utf8"),
        pytest.param(b"", OP_TEXT, id="empty"),
        pytest.param(b"\xff\xfe", OP_BINARY, id="not-utf8"),
        pytest.param(b"caf\xc3", OP_BINARY, id="truncated-utf8"),
        pytest.param(b"\xed\xa0\x80", OP_BINARY, id="surrogate"),
    ],
)
def test_encode_message_picks_text_or_binary(payload, opcode):
    assert parse_server_frame(encode_message(payload)) == (True, opcode, payload)


@pytest.mark.parametrize(
    ("frame", "max_size", "code"),
    [
        pytest.param(client_frame(OP_TEXT, b"hi", masked=False), 100, 1002, id="unmasked"),
        pytest.param(client_frame(OP_TEXT, b"hi", rsv=4), 100, 1002, id="rsv1"),
        pytest.param(client_frame(OP_TEXT, b"hi", rsv=1), 100, 1002, id="rsv3"),
        pytest.param(client_frame(0x3, b"hi"), 100, 1002, id="reserved-data-opcode"),
        pytest.param(client_frame(0xB, b"hi"), 100, 1002, id="reserved-control-opcode"),
        pytest.param(client_frame(OP_PING, b"x" * 126), 1000, 1002, id="control-too-long"),
        pytest.param(client_frame(OP_PING, b"x", fin=False), 100, 1002, id="control-fragmented"),
        pytest.param(client_frame(OP_CLOSE, b"\x03\xe8", fin=False), 100, 1002, id="close-fragmented"),
        pytest.param(client_frame(OP_BINARY, b"x" * 101), 100, 1009, id="too-big"),
        pytest.param(client_frame(OP_BINARY, b"", length_override=1 << 40)[:10], 100, 1009,
                     id="huge-length-refused-before-reading"),
    ],
)
def test_read_frame_refuses(frame, max_size, code):
    with pytest.raises(ProtocolError) as caught:
        read_frame(io.BytesIO(frame), max_size)
    assert caught.value.code == code


def test_read_frame_accepts_exactly_max_size():
    assert read_frame(io.BytesIO(client_frame(OP_BINARY, b"x" * 100)), 100).payload == b"x" * 100


@pytest.mark.parametrize("cut", [1, 2, 5, 7])
def test_truncated_frame_is_eof(cut):
    frame = client_frame(OP_TEXT, b"hello")
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(frame[:cut]), 100)


def test_control_frames_decode():
    stream = io.BytesIO(client_frame(OP_PING, b"p") + client_frame(OP_PONG, b"") + client_frame(OP_CLOSE, b""))
    assert [read_frame(stream, 100).opcode for _ in range(3)] == [OP_PING, OP_PONG, OP_CLOSE]


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                  3000, 4000, 4999])
def test_parse_close_accepts_sendable_codes(code):
    assert parse_close(struct.pack("!H", code) + "bye ✓".encode()) == (code, "bye ✓")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_parse_close_refuses_codes_that_must_not_be_sent(code):
    with pytest.raises(ProtocolError) as caught:
        parse_close(struct.pack("!H", code))
    assert caught.value.code == 1002


@pytest.mark.parametrize(
    ("payload", "result", "error"),
    [
        pytest.param(b"", (1005, ""), None, id="no-code"),
        pytest.param(b"\x03", None, 1002, id="one-byte"),
        pytest.param(b"\x03\xe8\xff", None, 1007, id="reason-not-utf8"),
    ],
)
def test_parse_close_edge_cases(payload, result, error):
    if error is None:
        assert parse_close(payload) == result
    else:
        with pytest.raises(ProtocolError) as caught:
            parse_close(payload)
        assert caught.value.code == error


def test_encode_close_round_trips_and_fits_a_control_frame():
    fin, opcode, payload = parse_server_frame(encode_close(1009, "too big"))
    assert (fin, opcode, parse_close(payload)) == (True, OP_CLOSE, (1009, "too big"))
    # A long multi-byte reason is cut to 125 bytes without splitting a character.
    _, _, payload = parse_server_frame(encode_close(1008, "é" * 100))
    assert len(payload) <= 125
    code, reason = parse_close(payload)
    assert code == 1008 and reason == "é" * 61
