"""Redis going away: killed and restarted, or paused. Sockets stay open and delivery resumes."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator

import pytest

from wsredis_middleware import RedisPublisher, RedisUnavailable
from wsredis_middleware import hub as hub_module

from ..conftest import WAIT, RedisServer

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server this test may kill: never the session's shared one."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def numsub(server: RedisServer, channel: str) -> int:
    with server.client() as client:
        return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))


def wait_until(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def test_redis_killed_and_restarted(own_redis, live_server):
    server = live_server(connection=own_redis.url, heartbeat="--hb--", heartbeat_interval=0.2)
    ws = server.connect("/ws/outage?subscribe-broadcast")
    publisher = RedisPublisher(facility="outage", broadcast=True, connection=own_redis.url)
    try:
        assert publisher.publish_message("before") == 1
        assert ws.recv() == "before"

        own_redis.process.send_signal(signal.SIGKILL)
        own_redis.process.wait(timeout=WAIT)
        with pytest.raises(RedisUnavailable, match=r"Redis at redis://127\.0\.0\.1:\d+/0 is unavailable"):
            publisher.publish_message("while down")
        # The WebSocket stays open: heartbeats keep arriving while Redis is gone.
        assert ws.recv() == "--hb--"

        own_redis.start()  # same port, empty: the hub must subscribe again by itself
        elapsed = wait_until(lambda: numsub(own_redis, "broadcast:outage") == 1, 10, "the hub to resubscribe")
        assert publisher.publish_message("after") == 1
        received = [ws.recv() for _ in range(20)]
        assert "after" in received
        assert "while down" not in received
        print(f"resubscribed {elapsed:.2f} s after the restart")
    finally:
        ws.close()


def test_publisher_retries_while_redis_restarts(own_redis, live_server):
    server = live_server(connection=own_redis.url)
    ws = server.connect("/ws/retry?subscribe-broadcast")
    try:
        own_redis.process.send_signal(signal.SIGKILL)
        own_redis.process.wait(timeout=WAIT)
        import gevent

        restart = gevent.spawn_later(0.5, own_redis.start)
        publisher = RedisPublisher(facility="retry", broadcast=True, connection=server.middleware.config)
        patient = RedisPublisher(
            facility="retry", broadcast=True,
            connection=type(server.middleware.config).from_kwargs(connection=own_redis.url, publish_retry_timeout=10),
        )
        with pytest.raises(RedisUnavailable):
            publisher.publish_message("impatient")  # the default: no retries
        patient.publish_message("patient")  # retries until Redis is back, then publishes
        restart.join(timeout=WAIT)
        with own_redis.client() as client:
            assert client.get("broadcast:retry") == b"patient"
    finally:
        ws.close()


def test_paused_redis_is_detected_by_the_health_check(own_redis, live_server, monkeypatch, caplog):
    # A paused Redis keeps its TCP connections open but answers nothing: only a health check with
    # a timeout tells it apart from a quiet one. Shorter intervals keep the test quick.
    monkeypatch.setattr(hub_module, "_HEALTH_INTERVAL", 0.5)
    monkeypatch.setattr(hub_module, "_HEALTH_TIMEOUT", 0.5)
    server = live_server(connection=own_redis.url, subscribe_timeout=10)
    ws = server.connect("/ws/paused?subscribe-broadcast")
    caplog.set_level(logging.WARNING, logger="wsredis_middleware.hub")
    try:
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: any("no answer to PING" in r.getMessage() for r in caplog.records), 5,
                       "the hub to notice the paused Redis")
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        publisher = RedisPublisher(facility="paused", broadcast=True, connection=own_redis.url)
        wait_until(lambda: numsub(own_redis, "broadcast:paused") == 1, 10, "the hub to resubscribe")
        assert publisher.publish_message("resumed") == 1
        assert ws.recv() == "resumed"
    finally:
        ws.close()
