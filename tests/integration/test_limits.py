"""Abuse limits against a live server: publish rate, sockets per address, channels per socket."""

from __future__ import annotations

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from wsredis_middleware import Identity, RedisPublisher, WebSocketRedisMiddleware

from ..conftest import LiveServer, hello_app
from .rawws import OP_CLOSE, OP_TEXT, RawClient, handshake_status


def test_publishing_too_fast_closes_with_1008_and_spares_the_others(live_server, redis_url):
    server = live_server(allowed_channels=["subscribe-broadcast", "publish-broadcast"], max_publish_rate=5)
    listener = server.connect("/ws/rate?subscribe-broadcast")
    try:
        with RawClient(server.port) as flooder:
            assert flooder.handshake("/ws/rate?publish-broadcast").status == 101
            for number in range(20):
                flooder.send_frame(OP_TEXT, f"flood {number}".encode())
            close = flooder.read_until_close()
            assert close.opcode == OP_CLOSE and close.close_code == 1008
        received = [listener.recv() for _ in range(5)]  # the burst allowance got through
        assert received == [f"flood {n}" for n in range(5)]
        assert RedisPublisher(facility="rate", broadcast=True, connection=redis_url).publish_message("still here") == 1
        assert listener.recv() == "still here"
    finally:
        listener.close()


@pytest.fixture
def proxied_server(redis_url):
    """Behind a trusted proxy fix, REMOTE_ADDR is the client's own (public) address."""
    middleware = WebSocketRedisMiddleware(hello_app, connection=redis_url, max_sockets_per_address=2)
    server = LiveServer(middleware)
    server.server.application = ProxyFix(middleware, x_for=1)
    yield server
    server.stop()


def test_sockets_per_public_address(proxied_server):
    alice = {"X-Forwarded-For": "1.2.3.4"}
    first, second = RawClient(proxied_server.port), RawClient(proxied_server.port)
    try:
        assert first.handshake("/ws/limit?subscribe-broadcast", alice).status == 101
        assert second.handshake("/ws/limit?subscribe-broadcast", alice).status == 101
        refused = handshake_status(proxied_server.port, "/ws/limit?subscribe-broadcast", alice)
        assert refused.status == 429 and b"WS4REDIS_MAX_SOCKETS_PER_ADDRESS" in refused.body
        bob = handshake_status(proxied_server.port, "/ws/limit?subscribe-broadcast", {"X-Forwarded-For": "5.6.7.8"})
        assert bob.status == 101
    finally:
        first.close()
        second.close()


def test_more_channels_than_allowed_is_refused_before_the_upgrade(live_server):
    server = live_server(
        resolver=lambda request: Identity(user="busy", groups=[f"g{n}" for n in range(150)]),
        max_subscriptions=100,
    )
    response = handshake_status(server.port, "/ws/many?subscribe-group")
    assert response.status == 400 and b"150 channels" in response.body
    assert handshake_status(server.port, "/ws/many?subscribe-user").status == 101
