"""WS4REDIS_HANDSHAKE_TIMEOUT: a deadline for the request headers, so slow clients cannot pile up."""

from __future__ import annotations

import socket
import time

import gevent

from wsredis_middleware import RedisPublisher

from ..conftest import WAIT


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF), reading and discarding anything else."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_dribbling_headers_cannot_outlast_the_deadline(live_server, redis_url):
    server = live_server(handshake_timeout=1.0)
    healthy = server.connect("/ws/calm?subscribe-broadcast")
    with connect(server.port) as slow:
        slow.sendall(b"GET /ws/calm?subscribe-broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        cut_off = None
        # One header byte every 0.2 s: every single read is quick, only the total is too long.
        for byte in b"X-Slow: " + b"a" * 40:
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                cut_off = time.monotonic() - started
                break
            gevent.sleep(0.2)
            slow.settimeout(0.01)
            try:
                if slow.recv(4096) == b"":
                    cut_off = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            finally:
                slow.settimeout(WAIT)
        assert cut_off is not None, "the server kept a dribbling client for 8 s"
        assert 0.9 <= cut_off <= 2.5, cut_off
    try:
        assert RedisPublisher(facility="calm", broadcast=True, connection=redis_url).publish_message("fine") == 1
        assert healthy.recv() == "fine"  # other sockets did not notice
    finally:
        healthy.close()


def test_silent_connection_is_closed_after_the_deadline(live_server):
    server = live_server(handshake_timeout=0.5)
    with connect(server.port) as silent:
        started = time.monotonic()
        assert closed_by_server(silent)
        assert 0.4 <= time.monotonic() - started <= 2.0


def test_the_deadline_does_not_limit_an_open_websocket(live_server, redis_url):
    server = live_server(handshake_timeout=0.5)
    ws = server.connect("/ws/long?subscribe-broadcast")
    try:
        gevent.sleep(1.5)  # three times the handshake deadline
        assert RedisPublisher(facility="long", broadcast=True, connection=redis_url).publish_message("still") == 1
        assert ws.recv() == "still"
    finally:
        ws.close()
