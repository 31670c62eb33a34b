"""Tried as a new user would: a ten-line app file, a server process, a publisher process.

Nothing here reaches into the package: the app is a file run with ``python``, the client is
websocket-client over a real socket, and the message comes from another process through Redis.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time

import pytest
import websocket

from ..conftest import WAIT, free_port

START_TIMEOUT = 15.0  # a cold interpreter importing gevent, redis and webob


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"the app exited with {process.returncode} before listening:\n{log}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not listen on {port} within {START_TIMEOUT:g} s")
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT)


def test_readme_style_app_delivers_a_published_message(tmp_path, redis_url):
    port = free_port()
    app_file = tmp_path / "app.py"
    app_file.write_text(textwrap.dedent(f"""\
        from gevent import monkey; monkey.patch_all()  # first, before anything else is imported

        from wsredis_middleware import WebSocketRedisMiddleware
        from wsredis_middleware.server import serve

        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"Hello from my app"]

        application = WebSocketRedisMiddleware(hello, connection={redis_url!r})
        serve(application, "127.0.0.1", {port})
    """))
    assert len([line for line in app_file.read_text().splitlines() if line]) <= 10
    log_path = tmp_path / "app.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, str(app_file)], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for_port(port, server, log_path.read_text())
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws/foo?subscribe-broadcast", timeout=WAIT)
        try:
            publisher = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(f"""\
                    from wsredis_middleware import RedisPublisher
                    publisher = RedisPublisher(facility="foo", broadcast=True, connection={redis_url!r})
                    print(publisher.publish_message("Hello, new user"))
                """)],
                capture_output=True, text=True, timeout=START_TIMEOUT, cwd=tmp_path,
            )
            assert publisher.returncode == 0, publisher.stderr
            # One receiver, the server's pub/sub connection: it subscribed before answering 101,
            # so a message published right after connecting is delivered live.
            assert publisher.stdout.strip() == "1"
            assert ws.recv() == "Hello, new user"
        finally:
            ws.close(timeout=WAIT)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as http:
            http.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := http.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"Hello from my app")
    finally:
        stop(server)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()
