"""The WebSocket wire format (RFC 6455): encoding server frames, decoding client frames.

Server frames are encoded once and the same bytes go to every socket, so encoding is a pure
function of the payload. Decoding enforces what a server must: masked client frames, no reserved
bits, known opcodes, small unfragmented control frames and a size limit.
"""

from __future__ import annotations

import struct
from typing import IO, NamedTuple

from .exceptions import ProtocolError

__all__ = [
    "CLOSE_GOING_AWAY", "CLOSE_INVALID_DATA", "CLOSE_MESSAGE_TOO_BIG", "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION", "CLOSE_PROTOCOL_ERROR", "CLOSE_INTERNAL_ERROR", "CLOSE_TRY_AGAIN_LATER",
    "Frame", "OP_BINARY", "OP_CLOSE", "OP_CONTINUATION", "OP_PING", "OP_PONG", "OP_TEXT",
    "encode_close", "encode_frame", "encode_message", "parse_close", "read_frame",
]

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPCODES = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY})
_CONTROL_OPCODES = frozenset({OP_CLOSE, OP_PING, OP_PONG})

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
_NO_STATUS = 1005  # reported when a close frame carries no code; never sent
# Codes a peer may put on the wire (RFC 6455 7.4 and the IANA registry); 3000-4999 are private.
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

_pack_short = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


class Frame(NamedTuple):
    fin: bool
    opcode: int
    payload: bytes


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One unmasked server frame."""
    head = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        return bytes((head, length)) + payload
    if length < 0x10000:
        return _pack_short(head, 126, length) + payload
    return _pack_long(head, 127, length) + payload


def encode_message(payload: bytes) -> bytes:
    """A data frame for a Redis payload: text if it is valid UTF-8, binary otherwise.

    Redis keeps no type, so this is how text stays text and binary stays binary end to end.
    """
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return encode_frame(OP_BINARY, payload)
    return encode_frame(OP_TEXT, payload)


def encode_close(code: int, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit the 125-byte control-frame limit."""
    data = reason.encode("utf-8")[:123]
    while True:  # never cut a multi-byte character in half
        try:
            data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + data)


def parse_close(payload: bytes) -> tuple[int, str]:
    """Code and reason of a received close frame; raises ``ProtocolError`` if it is malformed."""
    if not payload:
        return _NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with a one-byte payload")
    (code,) = struct.unpack("!H", payload[:2])
    if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(CLOSE_INVALID_DATA, "close reason is not UTF-8") from None
    return code, reason


def _read_exactly(rfile: IO[bytes], n: int) -> bytes:
    data = rfile.read(n)
    if data is None or len(data) < n:
        raise EOFError("connection closed mid-frame")
    return data


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR is far faster in CPython than a per-byte loop.
    n = len(payload)
    if not n:
        return payload
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def read_frame(rfile: IO[bytes], max_size: int) -> Frame:
    """Read one client frame. Raises ``EOFError`` on a closed stream, ``ProtocolError`` on a bad frame.

    *max_size* bounds data frames only; control frames are bounded at 125 bytes by the protocol.
    """
    first = rfile.read(2)
    if not first:
        raise EOFError("connection closed")
    if len(first) < 2:
        first += _read_exactly(rfile, 1)
    b0, b1 = first[0], first[1]
    fin, opcode = bool(b0 & 0x80), b0 & 0x0F
    if b0 & 0x70:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set without a negotiated extension")
    if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
    if not b1 & 0x80:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
    length = b1 & 0x7F
    if opcode in _CONTROL_OPCODES and (length > 125 or not fin):
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "control frames must be unfragmented and <= 125 bytes")
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(rfile, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(rfile, 8))
    if length > max_size and opcode not in _CONTROL_OPCODES:
        raise ProtocolError(CLOSE_MESSAGE_TOO_BIG, f"frame of {length} bytes exceeds the {max_size}-byte limit")
    mask = _read_exactly(rfile, 4)
    return Frame(fin, opcode, _unmask(_read_exactly(rfile, length), mask))
