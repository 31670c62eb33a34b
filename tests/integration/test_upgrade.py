"""Our handler after the upgrade: bytes sent with the handshake are kept, nothing is left behind."""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

from wsredis_middleware import WebSocketRedisMiddleware

from ..conftest import WAIT, LiveServer, hello_app
from .rawws import OP_TEXT, RawClient, masked_frame


def test_a_frame_sent_with_the_handshake_is_not_lost(live_server):
    # A client may send its first frame without waiting for the 101: the server has then read
    # it into the handshake's buffer, and the WebSocket must start from those bytes.
    server = live_server(allowed_channels=["subscribe-broadcast", "publish-broadcast"])
    listener = server.connect("/ws/eager?subscribe-broadcast")
    try:
        with RawClient(server.port) as eager:
            eager.sock.sendall(
                b"GET /ws/eager?publish-broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n" + masked_frame(OP_TEXT, b"in the same packet")
            )
            assert listener.recv() == "in the same packet"
            eager.send_frame(OP_TEXT, b"and the next one")
            assert listener.recv() == "and the next one"
    finally:
        listener.close()


def test_a_closed_socket_leaves_no_reference_cycle(redis_url):
    """The handler of a finished WebSocket is freed at once, without waiting for the collector."""
    handlers: list[weakref.ref[Any]] = []
    middleware = WebSocketRedisMiddleware(hello_app, connection=redis_url)

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        upgrade = environ.get("wsredis.upgrade")
        if upgrade is not None:
            handlers.append(weakref.ref(upgrade.__self__))
        return middleware(environ, start_response)

    server = LiveServer(middleware)
    server.server.application = recording
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            ws = server.connect("/ws/cycle?subscribe-broadcast")
            ws.close()
        deadline = time.monotonic() + WAIT
        while middleware.hub.subscriptions or any(ref() is not None for ref in handlers):
            assert time.monotonic() < deadline, "a finished WebSocket's handler is still alive"
            time.sleep(0.02)
        assert len(handlers) == 5
    finally:
        gc.enable()
        server.stop()
