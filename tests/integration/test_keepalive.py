"""Keeping sockets alive and finding dead ones: application heartbeats and protocol pings.

Intervals are shortened through settings so that each test takes about a second.
"""

from __future__ import annotations

import time

import gevent
import websocket

from wsredis_middleware import RedisPublisher

from .rawws import OP_PING, RawClient
from .support import wait_attached, wait_until

HEARTBEAT = "--hb--"


def test_heartbeat_is_sent_after_idleness(live_server, redis_server):
    server = live_server(heartbeat=HEARTBEAT, heartbeat_interval=0.3)
    ws = server.connect("/ws/foo?subscribe-broadcast", timeout=3)
    try:
        started = time.monotonic()
        assert ws.recv() == HEARTBEAT
        first = time.monotonic() - started
        assert ws.recv() == HEARTBEAT
        second = time.monotonic() - started - first
        # Every interval of idleness, not at every sweep of the hub.
        assert 0.2 <= second <= 1.5, second
    finally:
        ws.close()


def test_no_heartbeat_while_messages_flow(live_server, redis_server, redis_url):
    server = live_server(heartbeat=HEARTBEAT, heartbeat_interval=0.6)
    ws = server.connect("/ws/foo?subscribe-broadcast", timeout=3)
    publisher = RedisPublisher(facility="foo", broadcast=True, connection=redis_url)
    try:
        wait_attached(server, redis_server, 1)
        sent = [f"message {n}" for n in range(15)]

        def publish() -> None:
            for message in sent:
                publisher.publish_message(message, expire=0)
                gevent.sleep(0.1)  # well inside the heartbeat interval

        feeder = gevent.spawn(publish)
        received = [ws.recv() for _ in sent]
        feeder.get(timeout=5)
        assert received == sent  # 1.5 s of traffic and not one heartbeat among it
        assert ws.recv() == HEARTBEAT  # once it goes quiet, the heartbeat resumes
    finally:
        ws.close()


def test_heartbeat_from_the_client_is_swallowed(live_server, redis_server, redis_url):
    server = live_server(heartbeat=HEARTBEAT, heartbeat_interval=30,
                         allowed_channels=["subscribe-broadcast", "publish-broadcast"])
    sender = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast")
    listener = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        sender.send(HEARTBEAT)
        sender.send("after the heartbeat")
        assert listener.recv() == "after the heartbeat"
        assert redis_server.cli("GET", "broadcast:foo") == "after the heartbeat"
    finally:
        sender.close()
        listener.close()


def test_a_peer_that_never_answers_pings_is_disconnected(live_server, redis_server):
    server = live_server(ping_interval=0.2, ping_timeout=0.3)
    with RawClient(server.port, timeout=5) as client:
        assert client.handshake("/ws/foo?subscribe-broadcast").status == 101
        started = time.monotonic()
        frame = client.read_frame()
        assert frame.opcode == OP_PING  # asked, and deliberately never answered
        try:
            client.wait_eof()
        except ConnectionResetError:
            pass  # dropped the hard way: still a disconnect
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"a dead peer lingered {elapsed:.2f} s"
    wait_until(lambda: not server.middleware.hub.subscriptions, what="the dead socket to be detached")


def test_a_peer_that_answers_pings_stays_connected(live_server, redis_server, redis_url):
    server = live_server(ping_interval=0.2, ping_timeout=0.3)
    ws = server.connect("/ws/foo?subscribe-broadcast", timeout=0.1)
    try:
        wait_attached(server, redis_server, 1)
        pings = 0
        deadline = time.monotonic() + 1.5  # several ping timeouts
        while time.monotonic() < deadline:
            try:
                opcode, _frame = ws.recv_data_frame(control_frame=True)  # answers pings itself
            except websocket.WebSocketTimeoutException:
                continue
            pings += opcode == websocket.ABNF.OPCODE_PING
        assert pings >= 2
        ws.settimeout(5)
        assert RedisPublisher(facility="foo", broadcast=True, connection=redis_url).publish_message("alive") == 1
        assert ws.recv() == "alive"
    finally:
        ws.close()
