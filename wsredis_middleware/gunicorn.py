"""A gunicorn worker whose handler authorises WebSockets before upgrading them.

    gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker --workers 4 myproject.wsgi

Each worker process builds its own hub (one Redis pub/sub connection) after the fork: the hub
is created lazily by the first WebSocket a worker serves, and gunicorn imports the application
in each worker unless ``--preload`` is given.

On a graceful stop (SIGTERM to the master, or a worker being recycled) a worker stops accepting,
closes its WebSockets with 1001 so browsers reconnect to another worker or server, and waits for
them within gunicorn's ``--graceful-timeout``. SIGINT and SIGQUIT are gunicorn's quick shutdown:
workers exit at once and clients see the connection drop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

from .server import WebSocketUpgradeMixin, close_connections, find_middlewares

if TYPE_CHECKING:
    from .middleware import WebSocketRedisMiddleware

__all__ = ["GeventWebSocketWorker", "GunicornWebSocketHandler", "GunicornWebSocketServer"]

_SWEEP_SECONDS = 0.1


class GunicornWebSocketHandler(WebSocketUpgradeMixin, PyWSGIHandler):
    """gunicorn's gevent handler (its access log included) with the deferred upgrade."""


class GunicornWebSocketServer(PyWSGIServer):
    """gunicorn's gevent server; closing it (gunicorn's graceful stop) also closes the WebSockets."""

    def close(self) -> None:
        if self.closed:
            return
        super().close()  # stop accepting first: reconnecting clients land on another worker
        middlewares = close_connections(self)
        # gunicorn waits for the pool to empty; keep closing what opens or goes idle meanwhile.
        gevent.spawn(_sweep, self, middlewares)


class GeventWebSocketWorker(GeventPyWSGIWorker):
    """``gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker``."""

    server_class = GunicornWebSocketServer
    wsgi_handler = GunicornWebSocketHandler

    def run(self) -> None:
        try:
            super().run()
        finally:
            for middleware in _middlewares(self.wsgi):
                middleware.hub.stop()


def _sweep(server: Any, middlewares: list[WebSocketRedisMiddleware]) -> None:
    pool = server.pool
    while pool is not None and len(pool):
        gevent.sleep(_SWEEP_SECONDS)
        close_connections(server, middlewares)


def _middlewares(application: Any) -> list[WebSocketRedisMiddleware]:
    return list(find_middlewares(application)) if application is not None else []
