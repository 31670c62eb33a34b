"""The three kinds of server the middleware can find itself under, and what each one gets.

Ours authorises before the upgrade, so a refusal is an HTTP status and no ``101`` is ever sent.
gevent-websocket's stock handler upgrades first, so a refusal can only be a close frame (1008).
A server without WebSocket support gets a ``501`` whose body names the fix, logged once.
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
from gevent.pywsgi import WSGIHandler
from geventwebsocket.handler import WebSocketHandler as StockWebSocketHandler

from wsredis_middleware import PermissionDenied, RedisPublisher

from ..conftest import WAIT


def deny_private(request: Any, channels: list[str]) -> list[str]:
    """allowed_channels callback: the ``private`` facility is refused outright."""
    if request.facility == "private":
        raise PermissionDenied("members only")
    return channels


def raw_handshake(port: int, path: str) -> bytes:
    """Send a valid opening handshake; return every byte the server answers until it closes."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                return response
            response += chunk
        head, _, body = response.partition(b"\r\n\r\n")
        lengths = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")]
        length = lengths[0] if lengths else None
        assert length is not None, f"a refusal must say how long its body is: {head!r}"
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body


def wait_subscribed(redis_server: Any, channel: str) -> None:
    """The stock handler sends its 101 before our code runs: wait for Redis to list the channel."""
    deadline = time.monotonic() + WAIT
    with redis_server.client() as client:
        while client.pubsub_numsub(channel) != [(channel.encode(), 1)]:
            assert time.monotonic() < deadline, f"{channel} was never subscribed"
            gevent.sleep(0.01)


def close_code_of(ws: Any) -> int:
    """Read until the server's close frame; return its status code (each read bounded)."""
    import websocket

    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", data[:2])[0])


class TestOurHandler:
    def test_denied_handshake_is_403_and_never_101(self, live_server, caplog):
        caplog.set_level(logging.INFO, logger="wsredis_middleware")
        server = live_server(allowed_channels=deny_private)
        response = raw_handshake(server.port, "/ws/private?subscribe-broadcast")
        status_line = response.split(b"\r\n", 1)[0]
        assert status_line == b"HTTP/1.1 403 Forbidden"
        assert b"101" not in response.split(b"\r\n\r\n", 1)[0]
        assert response.endswith(b"members only\n")
        assert not server.middleware.hub.subscriptions
        assert any("403" in r.getMessage() for r in caplog.records)

    def test_allowed_handshake_is_101(self, live_server):
        server = live_server(allowed_channels=deny_private)
        ws = server.connect("/ws/public?subscribe-broadcast")
        try:
            assert ws.getstatus() == 101
        finally:
            ws.close(timeout=WAIT)


class TestStockGeventWebSocketHandler:
    """geventwebsocket.handler.WebSocketHandler: supported, with refusals as close frames."""

    def test_subscription_and_delivery_work(self, live_server, redis_url, redis_server):
        server = live_server(handler_class=StockWebSocketHandler, allowed_channels=deny_private)
        ws = server.connect("/ws/public?subscribe-broadcast")
        try:
            wait_subscribed(redis_server, "broadcast:public")
            assert RedisPublisher(facility="public", broadcast=True, connection=redis_url).publish_message("hi") == 1
            assert ws.recv() == "hi"
            ws.ping(b"alive?")  # our protocol code answers, not the stock handler's
            assert ws.recv_data(control_frame=True) == (0xA, b"alive?")
        finally:
            ws.close(timeout=WAIT)

    def test_denied_socket_is_closed_with_1008(self, live_server):
        server = live_server(handler_class=StockWebSocketHandler, allowed_channels=deny_private)
        ws = server.connect("/ws/private?subscribe-broadcast")
        try:
            assert ws.getstatus() == 101  # the stock handler upgraded before we could refuse
            assert close_code_of(ws) == 1008
            assert not server.middleware.hub.subscriptions
        finally:
            ws.close(timeout=WAIT)
            ws.shutdown()  # after answering a close frame, websocket-client leaves its socket open


class TestServerWithoutWebSocketSupport:
    def test_upgrade_gets_501_naming_the_fix_logged_once(self, live_server, caplog):
        caplog.set_level(logging.INFO, logger="wsredis_middleware")
        server = live_server(handler_class=WSGIHandler)
        for _ in range(2):
            response = raw_handshake(server.port, "/ws/foo?subscribe-broadcast")
            assert response.startswith(b"HTTP/1.1 501 ")
            body = response.split(b"\r\n\r\n", 1)[1].decode()
            assert "wsredis_middleware.server.serve()" in body
            assert "wsredis_middleware.gunicorn.GeventWebSocketWorker" in body
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert "cannot upgrade to WebSocket" in errors[0].getMessage()

    @pytest.mark.parametrize("path", [pytest.param("/", id="root"), pytest.param("/page", id="page")])
    def test_other_requests_still_reach_the_app(self, live_server, path):
        import urllib.request

        server = live_server(handler_class=WSGIHandler)
        with urllib.request.urlopen(server.http_url(path), timeout=WAIT) as response:
            assert response.read() == f"hello from the app at {path}".encode()
