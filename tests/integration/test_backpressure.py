"""A reader that stops reading costs the server a bounded queue, then its connection; no one else waits.

The client here is a raw socket with a tiny receive buffer that never calls ``recv()`` during
the flood, so the kernel buffers on both sides fill up and the server's per-socket queue has to
absorb the rest. ``websocket.py`` promises: the queue never holds more than ``send_queue_bytes``
(besides the one write already under way); on overflow the queued frames are dropped and a close
frame 1013 is queued behind the write in flight; if the peer reads again within ``close_timeout``
it gets that close frame, otherwise the connection is dropped. Either way a healthy subscriber on
the same server misses nothing.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import struct
import time
from typing import Any

import gevent
import pytest

from wsredis_middleware import RedisPublisher
from wsredis_middleware.frames import encode_message
from wsredis_middleware.websocket import WebSocket

from ..conftest import WAIT

QUEUE_LIMIT = 64 * 1024
# At most 4000 x 2 KiB = 8 MB: twice what Linux lets a socket's send buffer grow to (tcp_wmem
# max, 4 MiB by default), so the server's own queue must overflow whatever the kernel absorbs.
MAX_MESSAGES = 4000
PAYLOAD = 2048
AFTERWARDS = 200  # messages published after the stalled socket is closed, for the healthy one
AHEAD = 25  # the flood runs at most 2 x AHEAD messages (100 KiB) ahead of the healthy reader
OP_CLOSE = 0x8


def open_stalled_socket(port: int, path: str) -> tuple[socket.socket, bytes]:
    """Handshake over a raw socket with a tiny receive buffer; return it and any bytes after the 101."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: sets the window
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection during the handshake"
        response += chunk
    head, _, rest = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, rest


def parse_frames(data: bytes | bytearray, position: int = 0) -> tuple[list[tuple[int, bytes]], int]:
    """``(opcode, payload)`` of each complete unmasked server frame from *position*; and where they end."""
    frames = []
    while position + 2 <= len(data):
        opcode, length, start = data[position] & 0x0F, data[position + 1] & 0x7F, position + 2
        if length == 126:
            if start + 2 > len(data):
                break
            (length,) = struct.unpack_from("!H", data, start)
            start += 2
        elif length == 127:
            if start + 8 > len(data):
                break
            (length,) = struct.unpack_from("!Q", data, start)
            start += 8
        if start + length > len(data):
            break
        frames.append((opcode, bytes(data[start:start + length])))
        position = start + length
    return frames, position


def masked_close(payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x80 | OP_CLOSE, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_until_close_or_end(
    sock: socket.socket, leftover: bytes, timeout: float
) -> tuple[list[tuple[int, bytes]], bool]:
    """Read the frames the server sends until a close frame arrives or the connection ends.

    Returns the frames and whether the connection ended without a close frame (EOF or reset).
    """
    deadline = time.monotonic() + timeout
    data, frames, position = bytearray(leftover), [], 0
    while True:
        new, position = parse_frames(data, position)
        frames += new
        if any(op == OP_CLOSE for op, _ in new):
            return frames, False
        del data[:position]  # keep the buffer small: the stream is megabytes long
        position = 0
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return frames, True
        if not chunk:
            return frames, True
        data += chunk
        assert time.monotonic() < deadline, "neither a close frame nor the end of the connection arrived"


def flood(redis_url: str, received: list[str], stalled: Any) -> int:
    """Publish until the stalled socket is closed, then AFTERWARDS more; return how many.

    Never more than AHEAD messages ahead of the healthy reader: a healthy subscriber is one
    that keeps up, so its backlog stays far below ``send_queue_bytes`` while the stalled one
    falls megabytes behind. MAX_MESSAGES bounds the flood if the server never closes it.
    """
    publisher = RedisPublisher(facility="flood", broadcast=True, connection=redis_url)
    filler = "x" * (PAYLOAD - 10)
    number, last = 0, MAX_MESSAGES
    while number < last:
        publisher.publish_message(f"{number:09d} {filler}")
        number += 1
        if stalled.close_code is not None and last == MAX_MESSAGES:
            last = min(MAX_MESSAGES, number + AFTERWARDS)
        if number % AHEAD == 0:
            deadline = time.monotonic() + WAIT
            while number - len(received) > AHEAD:
                assert time.monotonic() < deadline, f"the healthy reader stalled at {len(received)} messages"
                gevent.sleep(0.001)
    return number


def measure_queues(monkeypatch: pytest.MonkeyPatch, monitor: dict[str, Any]) -> None:
    """Record the largest per-socket queue right after each write of a batch, where it peaks.

    Sampling from another greenlet would miss the peaks: the hub hands out a burst of messages
    without yielding, and the writer greenlet empties the queue as soon as it runs.
    """
    flush_batch = WebSocket.flush_batch

    def flush_and_measure(self: WebSocket, now: float) -> None:
        flush_batch(self, now)
        monitor["max_queued"] = max(monitor["max_queued"], self._pending_bytes)

    monkeypatch.setattr(WebSocket, "flush_batch", flush_and_measure)


def collect(ws: Any, received: list[str], done: Any) -> None:
    """Read messages until the flood has ended and all it published arrived (each recv bounded)."""
    while not (done.ready() and len(received) >= done.value):
        received.append(ws.recv())


@pytest.mark.parametrize(
    ("close_timeout", "reads_again_in_time"),
    [
        pytest.param(10.0, True, id="reader-resumes-within-close-timeout-gets-1013"),
        pytest.param(0.2, False, id="reader-gone-past-close-timeout-is-dropped"),
    ],
)
def test_stalled_reader_is_closed_and_others_get_everything(
    live_server, redis_url, redis_server, caplog, monkeypatch, close_timeout, reads_again_in_time
):
    monitor: dict[str, Any] = {"max_queued": 0}
    measure_queues(monkeypatch, monitor)
    caplog.set_level(logging.WARNING, logger="wsredis_middleware")
    server = live_server(send_queue_bytes=QUEUE_LIMIT, close_timeout=close_timeout, expire=0)
    hub = server.middleware.hub
    healthy = server.connect("/ws/flood?subscribe-broadcast")
    stalled, leftover = open_stalled_socket(server.port, "/ws/flood?subscribe-broadcast")
    redis = redis_server.client()
    try:
        # Redis confirms the SUBSCRIBE before the 101, but a subscription gets its socket only
        # after the upgrade: wait until both are wired, and check Redis agrees.
        deadline = time.monotonic() + WAIT
        while len(hub.subscriptions) < 2 or any(s.websocket is None for s in hub.subscriptions):
            assert time.monotonic() < deadline, "the sockets never subscribed"
            gevent.sleep(0.01)
        assert redis.pubsub_numsub("broadcast:flood") == [(b"broadcast:flood", 1)]
        websockets = {s.websocket for s in hub.subscriptions}
        (stalled_ws,) = [ws for ws in websockets if ws._sock.getpeername() == stalled.getsockname()]
        received: list[str] = []
        started = time.monotonic()
        publisher = gevent.spawn(flood, redis_url, received, stalled_ws)
        reader = gevent.spawn(collect, healthy, received, publisher)
        publisher.join(60)
        assert publisher.successful(), publisher.exception
        published = publisher.value
        flood_seconds = time.monotonic() - started
        if not reads_again_in_time:
            gevent.sleep(close_timeout + 0.3)  # past close_timeout: the server gives up on it
        frames, dropped = read_until_close_or_end(stalled, leftover, timeout=WAIT)
        reader.join(WAIT)

        # The healthy subscriber got every message, in order.
        assert reader.successful(), reader.exception
        assert [m[:9] for m in received] == [f"{n:09d}" for n in range(published)]

        # Only the stalled socket was closed, with 1013, and its queue stayed bounded.
        assert stalled_ws.close_code == 1013
        assert [ws.close_code for ws in websockets - {stalled_ws}] == [None]
        assert 0 < monitor["max_queued"] <= QUEUE_LIMIT
        assert any("1013" in r.getMessage() for r in caplog.records)

        messages = [payload[:9].decode() for op, payload in frames if op != OP_CLOSE]
        delivered = len(messages)
        assert delivered < published - AFTERWARDS, "the stalled reader was never behind: the test proves nothing"
        # What it did get is whole frames, the first ones in order: the stream never lost frame sync.
        assert messages == [f"{n:09d}" for n in range(delivered)]
        if reads_again_in_time:
            assert not dropped
            opcode, payload = frames[-1]
            assert opcode == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 1013, frames[-1][:1]
            stalled.sendall(masked_close(payload[:2]))  # complete the closing handshake
        else:
            assert dropped, "past close_timeout the server must drop the connection"
            assert all(op != OP_CLOSE for op, _ in frames)
        # Either way the server forgets the socket: only the healthy one stays attached.
        deadline = time.monotonic() + close_timeout + WAIT
        while len(hub.subscriptions) != 1:
            assert time.monotonic() < deadline, "the stalled socket was never detached"
            gevent.sleep(0.01)
        print(f"\nflood of {published} x {PAYLOAD} B in {flood_seconds:.2f} s; stalled reader got "
              f"{delivered} messages; largest queue seen {monitor['max_queued']} B")
    finally:
        redis.close()
        stalled.close()
        healthy.close(timeout=WAIT)


def test_overflow_keeps_the_frame_already_on_the_wire():
    """The close frame 1013 follows whole frames, even when the overflow hits mid-frame.

    A frame the kernel took only part of stays at the head of the queue; dropping it with the
    rest would cut the stream mid-frame and the peer would read the close frame as payload.
    Deterministic: everything below runs in one greenlet, so the writer has not started yet.
    """
    server_end, client_end = socket.socketpair()
    rfile = server_end.makefile("rb")
    try:
        websocket = WebSocket(rfile, server_end, max_message_size=1024,
                              send_queue_bytes=QUEUE_LIMIT, close_timeout=WAIT)
        big = b"a" * (4 * 1024 * 1024)  # more than a socket pair's buffers take in one send
        websocket.send_frame(encode_message(big))
        assert websocket._pending, "the kernel took the whole frame: nothing was left to queue"
        for _ in range(QUEUE_LIMIT // PAYLOAD + 1):
            websocket.send_frame(encode_message(b"b" * PAYLOAD))
        assert websocket.close_code == 1013

        frames, dropped = read_until_close_or_end(client_end, b"", timeout=WAIT)
        assert not dropped
        assert frames[0] == (0x1, big)
        assert frames[-1][0] == OP_CLOSE and struct.unpack("!H", frames[-1][1][:2])[0] == 1013
    finally:
        websocket.abort()
        rfile.close()
        server_end.close()
        client_end.close()
