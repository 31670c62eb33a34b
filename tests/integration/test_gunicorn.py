"""gunicorn with our worker class: several processes, one hub each, every client gets every message."""

from __future__ import annotations

import signal
import textwrap
import time
import urllib.request

import pytest
import redis
import websocket

from wsredis_middleware import RedisPublisher

from ..conftest import free_port
from .processes import VENV_BIN, WAIT, Process, clean_env, is_alive, wait_until

APP_MODULE = textwrap.dedent("""
    import os
    from wsredis_middleware import PermissionDenied, WebSocketRedisMiddleware

    def inner(environ, start_response):
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def refuse_private(request):
        if request.facility == "private":
            raise PermissionDenied("not for you")
        return None

    application = WebSocketRedisMiddleware(inner, connection=os.environ["TEST_REDIS"],
                                           process_request=refuse_private)
""")

WORKERS = 2
PER_WORKER = 20  # --worker-connections: a full worker stops accepting, so the clients spread
CLIENTS = WORKERS * PER_WORKER
MESSAGES = 5


@pytest.fixture
def gunicorn(tmp_path, redis_url):
    (tmp_path / "app.py").write_text(APP_MODULE)
    port = free_port()
    process = Process(
        [str(VENV_BIN / "gunicorn"), "--workers", str(WORKERS), "--worker-connections", str(PER_WORKER),
         "--worker-class", "wsredis_middleware.gunicorn.GeventWebSocketWorker", "--bind", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", "app:application"],
        cwd=tmp_path, env=clean_env(TEST_REDIS=redis_url), new_session=True,
    )
    try:
        pids = {int(process.wait_for_line(r"Booting worker with pid: (\d+)", nth=n).group(1))
                for n in range(1, WORKERS + 1)}
        process.worker_pids = pids  # type: ignore[attr-defined]
        process.port = port  # type: ignore[attr-defined]
        yield process
    finally:
        process.kill()


def test_two_workers_each_with_one_hub_deliver_every_broadcast_to_40_clients(gunicorn, redis_url):
    base = f"ws://127.0.0.1:{gunicorn.port}/ws/room?subscribe-broadcast"
    clients: list[websocket.WebSocket] = []
    try:
        for _ in range(CLIENTS):
            clients.append(websocket.create_connection(base, timeout=WAIT))
        with redis.Redis.from_url(redis_url, socket_timeout=WAIT) as client:
            # Only hubs subscribe, one connection per worker: two subscribers means both workers
            # hold clients, and each has its own pub/sub connection (not one per socket, not shared).
            wait_until(lambda: client.pubsub_numsub("broadcast:room") == [(b"broadcast:room", WORKERS)],
                       "a hub subscribed in each worker")
            pubsub_clients = [c for c in client.client_list(_type="pubsub")]
            assert len(pubsub_clients) == WORKERS, pubsub_clients
        warm_up(clients, redis_url)
        publisher = RedisPublisher(facility="room", broadcast=True, connection=redis_url)
        for n in range(MESSAGES):
            assert publisher.publish_message(f"message {n}", expire=0) == WORKERS  # Redis counts the hubs
        for ws in clients:
            assert [ws.recv() for _ in range(MESSAGES)] == [f"message {n}" for n in range(MESSAGES)]
        assert all(is_alive(pid) for pid in gunicorn.worker_pids)
    finally:
        for ws in clients:
            ws.close(timeout=0.5)
            ws.shutdown()


def warm_up(clients: list[websocket.WebSocket], redis_url: str) -> None:
    """Publish until every client has received something, then a marker each client reads up to.

    A client's 101 arrives before its worker's hub has attached it; once it has received a
    message it is attached, and everything published after the marker reaches it.
    """
    publisher = RedisPublisher(facility="room", broadcast=True, connection=redis_url)
    waiting = list(clients)
    deadline = time.monotonic() + WAIT
    while waiting:
        assert time.monotonic() < deadline, f"{len(waiting)} clients never received a message"
        publisher.publish_message("warm-up", expire=0)
        still = []
        for ws in waiting:
            ws.settimeout(0.2)
            try:
                assert ws.recv() == "warm-up"
            except websocket.WebSocketTimeoutException:
                still.append(ws)
            finally:
                ws.settimeout(WAIT)
        waiting = still
    publisher.publish_message("start", expire=0)
    for ws in clients:
        while (message := ws.recv()) != "start":
            assert message == "warm-up"


def test_the_worker_authorises_before_the_upgrade(gunicorn):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=WAIT)
    try:
        connection.request("GET", "/ws/private?subscribe-broadcast", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        })
        response = connection.getresponse()
        assert response.status == 403  # an HTTP answer: the socket was never upgraded
        assert b"not for you" in response.read()
    finally:
        connection.close()
    with urllib.request.urlopen(f"http://127.0.0.1:{gunicorn.port}/pid", timeout=WAIT) as answer:
        assert int(answer.read()) in gunicorn.worker_pids  # plain HTTP reaches the app in a worker


def test_sigterm_stops_gunicorn_gracefully(gunicorn, redis_url):
    ws = websocket.create_connection(f"ws://127.0.0.1:{gunicorn.port}/ws/room?subscribe-broadcast", timeout=WAIT)
    try:
        warm_up([ws], redis_url)
        gunicorn.signal(signal.SIGTERM)
        opcode, frame = ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and frame.data[:2] == (1001).to_bytes(2, "big")
        assert gunicorn.wait(timeout=10) == 0
        for pid in gunicorn.worker_pids:
            assert not is_alive(pid)
    finally:
        ws.close()
        ws.shutdown()
