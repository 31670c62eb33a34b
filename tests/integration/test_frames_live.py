"""Frames end to end: text stays text, binary stays binary, empty frames are harmless, bad ones close.

Close codes are read from the close frame itself (websocket-client's ``recv_data_frame`` or the
raw client), never inferred from a dropped connection.
"""

from __future__ import annotations

import struct

import pytest
import websocket
from websocket import ABNF

from wsredis_middleware import RedisPublisher

from .rawws import OP_BINARY, OP_CLOSE, OP_TEXT, RawClient
from .support import recv_frames, wait_attached

PUBLISHING = ["subscribe-broadcast", "publish-broadcast"]


def close_code(ws: websocket.WebSocket) -> int:
    """Read frames until the server's close frame and return its status code."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            # websocket-client answered the close and now considers itself closed, so its
            # close() would return without releasing the socket.
            ws.shutdown()
            return struct.unpack("!H", frame.data[:2])[0]


@pytest.mark.parametrize(
    ("opcode", "payload"),
    [
        pytest.param(ABNF.OPCODE_TEXT, "héllo ✓".encode(), id="text"),
        pytest.param(ABNF.OPCODE_BINARY, b"\xff\x00\xfe\x80", id="binary"),
    ],
)
def test_client_frame_type_is_preserved(live_server, redis_server, opcode, payload):
    server = live_server(allowed_channels=PUBLISHING)
    sender = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast&echo")
    listener = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        sender.send(payload, opcode=opcode)
        assert recv_frames(listener, 1) == [(opcode, payload)]
        assert recv_frames(sender, 1) == [(opcode, payload)]
    finally:
        sender.close()
        listener.close()


def test_server_published_frame_type_follows_the_payload(live_server, redis_server, redis_url):
    server = live_server()
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        publisher = RedisPublisher(facility="foo", broadcast=True, connection=redis_url)
        publisher.publish_message("text ✓")
        publisher.publish_message(b"\x89PNG\r\n\x1a\n\x00")
        assert recv_frames(ws, 2) == [
            (ABNF.OPCODE_TEXT, "text ✓".encode()),
            (ABNF.OPCODE_BINARY, b"\x89PNG\r\n\x1a\n\x00"),
        ]
    finally:
        ws.close()


def test_empty_client_frames_are_ignored(live_server, redis_server):
    server = live_server(allowed_channels=PUBLISHING)
    sender = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast")
    listener = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        sender.send("")
        sender.send_binary(b"")
        sender.send("still here")
        assert listener.recv() == "still here"
        sender.send("and again")
        assert listener.recv() == "and again"
        assert sender.connected
    finally:
        sender.close()
        listener.close()


def test_an_empty_redis_message_crashes_nothing(live_server, redis_server, redis_url):
    server = live_server()
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        redis_server.cli("PUBLISH", "broadcast:foo", "")
        redis_server.cli("PUBLISH", "broadcast:foo", "after the empty one")
        assert ws.recv() == "after the empty one"
        # The hub survived too: a socket that connects now is still served.
        late = server.connect("/ws/foo?subscribe-broadcast")
        try:
            wait_attached(server, redis_server, 2)
            redis_server.cli("PUBLISH", "broadcast:foo", "for both")
            assert (ws.recv(), late.recv()) == ("for both", "for both")
        finally:
            late.close()
    finally:
        ws.close()


def test_message_over_the_size_limit_closes_with_1009(live_server, redis_server):
    server = live_server(max_message_size=1024, allowed_channels=PUBLISHING)
    ws = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        ws.send("x" * 1024)  # exactly the limit is fine
        ws.send("x" * 2000)
        assert close_code(ws) == 1009
    finally:
        ws.close()


def test_fragmented_message_over_the_size_limit_closes_with_1009(live_server, redis_server):
    server = live_server(max_message_size=1024)
    with RawClient(server.port) as client:
        assert client.handshake("/ws/foo?subscribe-broadcast").status == 101
        wait_attached(server, redis_server, 1)
        client.send_frame(OP_TEXT, b"x" * 700, fin=False)
        client.send_frame(0x0, b"x" * 700)
        assert client.read_until_close().close_code == 1009


def test_invalid_utf8_text_closes_with_1007(live_server, redis_server):
    server = live_server()
    with RawClient(server.port) as client:
        assert client.handshake("/ws/foo?subscribe-broadcast").status == 101
        wait_attached(server, redis_server, 1)
        client.send_frame(OP_TEXT, b"caf\xc3")  # a truncated two-byte sequence
        frame = client.read_until_close()
        assert frame.opcode == OP_CLOSE
        assert frame.close_code == 1007


def test_invalid_utf8_binary_is_fine(live_server, redis_server):
    server = live_server(allowed_channels=PUBLISHING)
    with RawClient(server.port) as client:
        assert client.handshake("/ws/foo?subscribe-broadcast&publish-broadcast&echo").status == 101
        wait_attached(server, redis_server, 1)
        client.send_frame(OP_BINARY, b"caf\xc3")
        frame = client.read_frame()
        assert (frame.opcode, frame.payload) == (OP_BINARY, b"caf\xc3")
