"""A gevent.pywsgi handler that lets the middleware authorise a WebSocket *before* upgrading it.

    from gevent import monkey; monkey.patch_all()
    from wsredis_middleware.server import serve
    serve(application, "127.0.0.1", 8000)

gevent-websocket's handler answers ``101 Switching Protocols`` before the application runs, so a
refusal can only be a close frame. This handler instead hands the middleware a callable under
``environ["wsredis.upgrade"]``; the 101 is sent only when the middleware calls it, and any other
answer (400, 403, ...) is an ordinary HTTP response.

:func:`serve` shuts down gracefully on SIGTERM or SIGINT: it stops accepting, closes every
WebSocket with 1001 (going away, so clients reconnect to another server), waits a bounded time
for the sockets to finish their closing handshake, and stops the hub.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Iterator
from time import monotonic
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from .frames import CLOSE_GOING_AWAY
from .handshake import is_upgrade_request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .middleware import WebSocketRedisMiddleware

# .middleware is imported where it is used, not here: it imports redis, and gunicorn's master
# imports this module (through the worker class) before its workers monkey-patch; redis
# imported before patching makes gevent warn that ssl was patched too late.

__all__ = [
    "WebSocketHandler", "WebSocketUpgradeMixin", "begin_shutdown", "close_connections", "close_idle_connections",
    "find_middlewares", "make_server", "serve", "serve_until_stopped", "shutdown",
]

logger = logging.getLogger(__name__)

_IDLE_ATTRIBUTE = "wsredis_idle_sockets"  # set on the server: keep-alive sockets between requests
_HANDSHAKE_TIMEOUT_ATTRIBUTE = "wsredis_handshake_timeout"
DEFAULT_HANDSHAKE_TIMEOUT = 10.0  # for servers whose application holds no middleware
_WRAPPER_ATTRIBUTES = ("app", "application", "wsgi_app", "__wrapped__")  # where wrappers keep the inner app
_SHUTDOWN_REASON = "server shutting down"


class WebSocketUpgradeMixin:
    """Adds the deferred WebSocket upgrade to a ``gevent.pywsgi.WSGIHandler`` subclass."""

    websocket_upgraded = False

    _handshake_timer: gevent.Timeout | None = None

    def handle_one_request(self) -> Any:
        try:
            return super().handle_one_request()  # type: ignore[misc]
        finally:
            self._stop_handshake_timer()  # whatever path the request took

    def read_requestline(self) -> str:
        # From here until the headers are parsed the client has WS4REDIS_HANDSHAKE_TIMEOUT
        # seconds in all: a deadline, not a per-read timeout, so that a client dribbling one
        # byte at a time (slowloris) cannot hold the connection. An idle keep-alive connection
        # waiting for its next request is closed after the same time.
        handler: Any = self
        self._handshake_timer = gevent.Timeout.start_new(
            _handshake_timeout(handler.server), TimeoutError("request headers not received in time")
        )
        # While a keep-alive connection waits for its next request it is idle: a shutdown may
        # close it at once instead of waiting for the client to go away.
        idle = _idle_sockets(handler.server)
        sock = handler.socket
        idle.add(sock)
        try:
            line: str = super().read_requestline()  # type: ignore[misc]
        finally:
            idle.discard(sock)
        return line

    def _stop_handshake_timer(self) -> None:
        timer, self._handshake_timer = self._handshake_timer, None
        if timer is not None:
            timer.close()

    def get_environ(self) -> dict[str, Any]:
        from .middleware import UPGRADE_ENVIRON_KEY

        self._stop_handshake_timer()  # the headers are in: the application's time starts
        environ: dict[str, Any] = super().get_environ()  # type: ignore[misc]
        if is_upgrade_request(environ):
            environ[UPGRADE_ENVIRON_KEY] = self.upgrade_connection
        return environ

    def upgrade_connection(self, headers: list[tuple[str, str]]) -> tuple[Any, Any]:
        """Send ``101 Switching Protocols``; return the reader and socket the WebSocket runs on."""
        handler: Any = self
        status = "101 Switching Protocols"
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        handler.socket.sendall(head.encode("latin-1"))
        handler.status, handler._orig_status, handler.code = status.encode("latin-1"), status, 101
        handler.response_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        handler.headers_sent = True
        handler.close_connection = True  # the connection ends with the WebSocket
        self.websocket_upgraded = True
        return _small_reader(handler), handler.socket

    def run_application(self) -> None:
        from .middleware import UPGRADE_ENVIRON_KEY

        handler: Any = self
        self.websocket_upgraded = False
        if UPGRADE_ENVIRON_KEY not in handler.environ:
            super().run_application()  # type: ignore[misc]
            return
        try:
            handler.result = handler.application(handler.environ, handler.start_response)
            if not self.websocket_upgraded:
                handler.process_result()
        finally:
            # The environ holds our bound method, which holds the handler, which holds the
            # environ: break that cycle, or every closed socket waits for a full collection.
            handler.environ.pop(UPGRADE_ENVIRON_KEY, None)
            close = getattr(handler.result, "close", None)
            handler.result = None
            if close is not None:
                close()


class WebSocketHandler(WebSocketUpgradeMixin, WSGIHandler):
    """``gevent.pywsgi.WSGIHandler`` with the deferred upgrade; pass it as ``handler_class``."""


def make_server(application: WSGIApplication, host: str = "127.0.0.1", port: int = 8000,
                **kwargs: Any) -> WSGIServer:
    """A ``gevent.pywsgi.WSGIServer`` for *application* using :class:`WebSocketHandler`.

    Raises :class:`~wsredis_middleware.ConfigurationError` if gevent has not patched the
    standard library: every connection would block the others.
    """
    from .config import require_gevent_patched  # not at import time: config imports redis

    require_gevent_patched()
    kwargs.setdefault("handler_class", WebSocketHandler)
    return WSGIServer((host, port), application, **kwargs)


def serve(application: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, *,
          shutdown_timeout: float = 10.0, **kwargs: Any) -> None:
    """Serve *application* (wrapped in ``WebSocketRedisMiddleware``) until SIGTERM or SIGINT.

    Then shut down gracefully within *shutdown_timeout* seconds (see :func:`shutdown`).
    """
    kwargs.setdefault("spawn", Pool())  # a pool lets the shutdown wait for open connections
    server = make_server(application, host, port, **kwargs)
    server.start()
    logger.info("serving on http://%s:%d/", host, server.server_port)
    serve_until_stopped(server, shutdown_timeout=shutdown_timeout)


def serve_until_stopped(server: WSGIServer, *, shutdown_timeout: float = 10.0) -> None:
    """Block until SIGTERM or SIGINT, then :func:`shutdown`; a second signal cuts the wait short."""
    stopping, forced = Event(), Event()

    def on_signal() -> None:
        if stopping.is_set():
            logger.warning("second signal: closing the remaining connections now")
            forced.set()
        stopping.set()

    handlers = [gevent.signal_handler(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)]
    try:
        if not server.started:
            server.start()
        stopping.wait()
        logger.info("shutting down: closing WebSockets with 1001 (waiting at most %g s)", shutdown_timeout)
        shutdown(server, timeout=shutdown_timeout, forced=forced)
    finally:
        for handler in handlers:
            handler.cancel()


def shutdown(server: WSGIServer, *, timeout: float = 10.0, forced: Event | None = None) -> None:
    """Stop accepting, close every WebSocket with 1001, wait up to *timeout*, stop the hubs.

    Connections still open when the time is up (peers that never answer the close) are killed,
    so this always returns within about ``timeout + 1`` seconds.
    """
    middlewares = begin_shutdown(server)
    pool = server.pool
    deadline = monotonic() + timeout
    while pool is not None and len(pool):
        remaining = deadline - monotonic()
        if remaining <= 0 or (forced is not None and forced.is_set()):
            logger.warning("shutdown: %d connection(s) still open after the wait; killing them", len(pool))
            break
        # Sockets that finished their handshake, or handlers back in keep-alive, since the last pass.
        close_connections(server, middlewares)
        gevent.sleep(min(0.05, remaining))
    server.stop(timeout=0)
    for middleware in middlewares:
        middleware.hub.stop()


def begin_shutdown(server: WSGIServer) -> list[WebSocketRedisMiddleware]:
    """Stop accepting, then :func:`close_connections`; returns the middlewares found."""
    server.close()
    return close_connections(server)


def close_connections(server: WSGIServer,
                      middlewares: list[WebSocketRedisMiddleware] | None = None) -> list[WebSocketRedisMiddleware]:
    """Close every WebSocket with 1001 and every idle keep-alive connection of *server*.

    Call it after the server stopped accepting, so that a client reconnecting at once lands on
    another server; calling it again closes only what opened since. Returns the middlewares
    (found in the server's application unless given), whose hubs the caller stops.
    """
    if middlewares is None:
        middlewares = list(find_middlewares(server.application))
        if not middlewares:
            logger.info("shutdown: no WebSocketRedisMiddleware found in %r", server.application)
    for middleware in middlewares:
        middleware.hub.close_all(CLOSE_GOING_AWAY, _SHUTDOWN_REASON)
    close_idle_connections(server)
    return middlewares


def close_idle_connections(server: WSGIServer) -> None:
    """Shut keep-alive connections that wait for their next request (HTTP allows closing them)."""
    for sock in tuple(_idle_sockets(server)):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone


def find_middlewares(application: Any, *, depth: int = 5) -> Iterator[WebSocketRedisMiddleware]:
    """Every ``WebSocketRedisMiddleware`` in *application* or in the apps it wraps.

    Wrappers are followed through the attributes WSGI wrappers commonly use (``app``,
    ``application``, ``wsgi_app``, ``__wrapped__``), *depth* levels deep.
    """
    from .middleware import WebSocketRedisMiddleware

    seen: set[int] = set()
    level = [application]
    for _ in range(depth + 1):
        following: list[Any] = []
        for obj in level:
            if obj is None or id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, WebSocketRedisMiddleware):
                yield obj
            following.extend(getattr(obj, name, None) for name in _WRAPPER_ATTRIBUTES)
        level = following


_READ_BUFFER = 512  # a WebSocket mostly receives small frames, and most sockets receive nothing


def _small_reader(handler: Any) -> Any:
    """Swap the request's 8 KiB buffered reader for a small one, keeping the bytes it holds.

    The handshake's reader lives as long as the WebSocket; with tens of thousands of idle
    sockets its buffer would be most of their memory.
    """
    sock, large = handler.socket, handler.rfile
    previous = sock.gettimeout()
    sock.settimeout(0.0)  # peek() may only return what is buffered or already arrived
    try:
        early = large.peek()
    finally:
        sock.settimeout(previous)
    large.read(len(early))  # consume what we took over
    small = _PrefixedReader(early, sock.makefile("rb", _READ_BUFFER))
    handler.rfile = handler.wsgi_input.rfile = small
    large.close()  # the socket stays open: other references hold it
    return small


class _PrefixedReader:
    """A reader that returns *prefix* first, then what *file* reads."""

    __slots__ = ("_file", "_prefix")

    def __init__(self, prefix: bytes, file: Any) -> None:
        self._prefix = prefix
        self._file = file

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)

    def read(self, size: int) -> bytes:
        prefix = self._prefix
        if not prefix:
            data: bytes = self._file.read(size)
            return data
        if len(prefix) >= size:
            self._prefix = prefix[size:]
            return prefix[:size]
        self._prefix = b""
        return prefix + (self._file.read(size - len(prefix)) or b"")

    def close(self) -> None:
        self._file.close()


def _handshake_timeout(server: Any) -> float:
    """The server's WS4REDIS_HANDSHAKE_TIMEOUT: the shortest of its middlewares', looked up once."""
    timeout: float | None = getattr(server, _HANDSHAKE_TIMEOUT_ATTRIBUTE, None)
    if timeout is None:
        configured = [m.config.handshake_timeout for m in find_middlewares(getattr(server, "application", None))]
        timeout = min(configured, default=DEFAULT_HANDSHAKE_TIMEOUT)
        setattr(server, _HANDSHAKE_TIMEOUT_ATTRIBUTE, timeout)
    return timeout


def _idle_sockets(server: Any) -> set[Any]:
    idle: set[Any] | None = getattr(server, _IDLE_ATTRIBUTE, None)
    if idle is None:
        idle = set()
        setattr(server, _IDLE_ATTRIBUTE, idle)
    return idle
