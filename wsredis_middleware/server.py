"""A gevent.pywsgi handler that lets the middleware authorise a WebSocket *before* upgrading it.

    from gevent import monkey; monkey.patch_all()
    from wsredis_middleware.server import serve
    serve(application, "127.0.0.1", 8000)

gevent-websocket's handler answers ``101 Switching Protocols`` before the application runs, so a
refusal can only be a close frame. This handler instead hands the middleware a callable under
``environ["wsredis.upgrade"]``; the 101 is sent only when the middleware calls it, and any other
answer (400, 403, ...) is an ordinary HTTP response.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gevent.pywsgi import WSGIHandler, WSGIServer

from .handshake import is_upgrade_request
from .middleware import UPGRADE_ENVIRON_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["WebSocketHandler", "WebSocketUpgradeMixin", "make_server", "serve"]

logger = logging.getLogger(__name__)


class WebSocketUpgradeMixin:
    """Adds the deferred WebSocket upgrade to a ``gevent.pywsgi.WSGIHandler`` subclass."""

    websocket_upgraded = False

    def get_environ(self) -> dict[str, Any]:
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
        return handler.rfile, handler.socket

    def run_application(self) -> None:
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
            close = getattr(handler.result, "close", None)
            handler.result = None
            if close is not None:
                close()


class WebSocketHandler(WebSocketUpgradeMixin, WSGIHandler):
    """``gevent.pywsgi.WSGIHandler`` with the deferred upgrade; pass it as ``handler_class``."""


def make_server(application: WSGIApplication, host: str = "127.0.0.1", port: int = 8000,
                **kwargs: Any) -> WSGIServer:
    """A ``gevent.pywsgi.WSGIServer`` for *application* using :class:`WebSocketHandler`."""
    kwargs.setdefault("handler_class", WebSocketHandler)
    return WSGIServer((host, port), application, **kwargs)


def serve(application: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
    """Serve *application* (wrapped in ``WebSocketRedisMiddleware``) until interrupted."""
    server = make_server(application, host, port, **kwargs)
    logger.info("serving on http://%s:%d/", host, server.server_port)
    server.serve_forever()
