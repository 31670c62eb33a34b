"""Graceful shutdown of real server processes: stop accepting, close with 1001, exit in bounded time."""

from __future__ import annotations

import signal
import struct
import sys
import textwrap
import time

import pytest
import redis
import websocket

from ..conftest import free_port
from .processes import VENV_BIN, WAIT, WSREDIS, Process, clean_env, wait_until

APP_MODULE = textwrap.dedent("""
    import os, time
    from wsredis_middleware import WebSocketRedisMiddleware

    def inner(environ, start_response):
        body = b"plain"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def slow_handshake(request):
        if request.facility == "slow":
            time.sleep(1.0)  # gevent-patched: the shutdown begins while this socket is not yet open

    application = WebSocketRedisMiddleware(inner, connection=os.environ["TEST_REDIS"],
                                           process_request=slow_handshake)
""")

SERVE_SCRIPT = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import logging, sys
    logging.basicConfig(level=logging.INFO)
    from app import application
    from wsredis_middleware.server import serve
    serve(application, "127.0.0.1", 0, shutdown_timeout=float(sys.argv[1]))
    print("serve() returned", flush=True)
""")

SHUTDOWN_TIMEOUT = 2.0  # the servers' bound in these tests, so that the bound itself is tested fast


def start_server(kind: str, tmp_path, redis_url: str) -> tuple[Process, str]:
    """Start *kind* of server on a free loopback port; return it and its ws:// base URL."""
    (tmp_path / "app.py").write_text(APP_MODULE)
    env = clean_env(TEST_REDIS=redis_url)
    if kind == "serve()":
        (tmp_path / "run.py").write_text(SERVE_SCRIPT)
        process = Process([sys.executable, "run.py", str(SHUTDOWN_TIMEOUT)], cwd=tmp_path, env=env)
        return process, process.wait_for_url().replace("http", "ws")
    if kind == "wsredis serve":
        process = Process([WSREDIS, "serve", "app:application", "--bind", "127.0.0.1:0",
                           "--shutdown-timeout", str(SHUTDOWN_TIMEOUT)], cwd=tmp_path, env=env)
        return process, process.wait_for_url().replace("http", "ws")
    port = free_port()
    process = Process(
        [str(VENV_BIN / "gunicorn"), "--workers", "2",
         "--worker-class", "wsredis_middleware.gunicorn.GeventWebSocketWorker", "--bind", f"127.0.0.1:{port}",
         "--graceful-timeout", str(int(SHUTDOWN_TIMEOUT)), "app:application"],
        cwd=tmp_path, env=env, new_session=True,
    )
    process.wait_for_line(r"Booting worker with pid: \d+", nth=2)
    return process, f"ws://127.0.0.1:{port}/"


def close_frame(ws: websocket.WebSocket) -> tuple[int, str]:
    """Read until the server's close frame; return its code and reason."""
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", frame.data[:2])[0]), frame.data[2:].decode()


def connect_subscribed(base: str, redis_url: str, count: int) -> list[websocket.WebSocket]:
    """*count* clients, each on its own facility, returned once Redis shows all of them subscribed."""
    clients = [websocket.create_connection(f"{base}ws/c{i}?subscribe-broadcast", timeout=WAIT) for i in range(count)]
    wanted = {f"broadcast:c{i}".encode() for i in range(count)}
    with redis.Redis.from_url(redis_url, socket_timeout=WAIT) as client:
        wait_until(lambda: wanted <= set(client.pubsub_channels()), "every client subscribed")
    return clients


def is_refused(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize(
    ("kind", "signum", "refused_while_closing"),
    [
        pytest.param("serve()", signal.SIGTERM, True, id="serve-sigterm"),
        pytest.param("serve()", signal.SIGINT, True, id="serve-sigint"),
        pytest.param("wsredis serve", signal.SIGTERM, True, id="cli-sigterm"),
        pytest.param("wsredis serve", signal.SIGINT, True, id="cli-ctrl-c"),
        # gunicorn's master keeps the listening socket until it exits: refused only after that.
        pytest.param("gunicorn", signal.SIGTERM, False, id="gunicorn-sigterm"),
    ],
)
def test_signal_closes_sockets_with_1001_and_exits_in_time(tmp_path, redis_url, kind, signum, refused_while_closing):
    process, base = start_server(kind, tmp_path, redis_url)
    port = int(base.rsplit(":", 1)[1].strip("/"))
    clients: list[websocket.WebSocket] = []
    try:
        clients = connect_subscribed(base, redis_url, 4)
        started = time.monotonic()
        process.signal(signum)
        for ws in clients:
            assert close_frame(ws) == (1001, "server shutting down")
        if refused_while_closing:
            assert is_refused(port), "the server still accepts connections while shutting down"
        assert process.wait(timeout=SHUTDOWN_TIMEOUT + 6) == 0, process.output()
        elapsed = time.monotonic() - started
        assert elapsed < SHUTDOWN_TIMEOUT + 4, f"took {elapsed:.1f} s to exit"
        assert is_refused(port)
        if kind == "serve()":
            assert "serve() returned" in process.stdout
        with redis.Redis.from_url(redis_url, socket_timeout=WAIT) as client:
            wait_until(lambda: not client.pubsub_channels(), "the hubs gone from Redis")
    finally:
        for ws in clients:
            ws.close()
            ws.shutdown()
        process.kill()


@pytest.mark.parametrize("kind", [pytest.param("serve()", id="serve"), pytest.param("wsredis serve", id="cli")])
def test_a_client_that_never_answers_cannot_hold_the_shutdown(tmp_path, redis_url, kind):
    process, base = start_server(kind, tmp_path, redis_url)
    clients: list[websocket.WebSocket] = []
    try:
        clients = connect_subscribed(base, redis_url, 2)  # and never read again: no close reply
        started = time.monotonic()
        process.signal(signal.SIGTERM)
        assert process.wait(timeout=SHUTDOWN_TIMEOUT + 6) == 0, process.output()
        elapsed = time.monotonic() - started
        assert SHUTDOWN_TIMEOUT - 0.5 <= elapsed < SHUTDOWN_TIMEOUT + 3, f"exit after {elapsed:.1f} s"
    finally:
        for ws in clients:
            ws.close(timeout=0.1)
            ws.shutdown()
        process.kill()


def test_idle_keep_alive_connections_do_not_delay_the_shutdown(tmp_path, redis_url):
    import http.client

    process, base = start_server("wsredis serve", tmp_path, redis_url)
    port = int(base.rsplit(":", 1)[1].strip("/"))
    browser = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        browser.request("GET", "/")
        response = browser.getresponse()
        assert response.read() == b"plain" and not response.will_close  # kept alive, idle
        started = time.monotonic()
        process.signal(signal.SIGTERM)
        assert process.wait(timeout=SHUTDOWN_TIMEOUT + 6) == 0
        assert time.monotonic() - started < 1.5, "the shutdown waited for an idle keep-alive connection"
    finally:
        browser.close()
        process.kill()


@pytest.mark.parametrize("kind", [pytest.param("wsredis serve", id="cli"), pytest.param("gunicorn", id="gunicorn")])
def test_a_socket_opened_during_the_shutdown_is_closed_too(tmp_path, redis_url, kind):
    import threading

    process, base = start_server(kind, tmp_path, redis_url)
    opened: list[websocket.WebSocket] = []
    late = threading.Thread(target=lambda: opened.append(
        websocket.create_connection(f"{base}ws/slow?subscribe-broadcast", timeout=WAIT)))
    try:
        late.start()
        time.sleep(0.5)  # the request is in, its handshake still running
        started = time.monotonic()
        process.signal(signal.SIGTERM)
        late.join(WAIT)
        assert opened, "the handshake begun before the shutdown did not complete"
        assert close_frame(opened[0]) == (1001, "server shutting down")
        assert process.wait(timeout=SHUTDOWN_TIMEOUT + 6) == 0, process.output()
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 1.5  # closed, not left to the kill
    finally:
        late.join(WAIT)
        for ws in opened:
            ws.close()
            ws.shutdown()
        process.kill()


class _Wrapper:
    """A WSGI wrapper that keeps the inner application under some attribute."""

    def __init__(self, attribute: str, inner: object) -> None:
        setattr(self, attribute, inner)

    def __call__(self, environ, start_response):  # pragma: no cover - never served here
        raise NotImplementedError


@pytest.mark.parametrize(
    ("build", "found"),
    [
        pytest.param(lambda mw: mw, 1, id="the-app-itself"),
        pytest.param(lambda mw: _Wrapper("app", mw), 1, id="werkzeug-style-app"),
        pytest.param(lambda mw: _Wrapper("wsgi_app", mw), 1, id="flask-style-wsgi_app"),
        pytest.param(lambda mw: _Wrapper("application", _Wrapper("__wrapped__", mw)), 1, id="two-levels"),
        pytest.param(lambda mw: _Wrapper("unrelated", mw), 0, id="unknown-attribute"),
        pytest.param(lambda mw: _Wrapper("app", None), 0, id="plain-app"),
    ],
)
def test_the_shutdown_finds_the_middleware_through_common_wrappers(redis_url, build, found):
    from wsredis_middleware import WebSocketRedisMiddleware
    from wsredis_middleware.server import find_middlewares

    middleware = WebSocketRedisMiddleware(lambda environ, start_response: [], connection=redis_url)
    application = build(middleware)
    if isinstance(application, _Wrapper):
        application.__wrapped__ = application  # a reference cycle must not make the search loop
    assert list(find_middlewares(application)) == [middleware] * found
