"""A gunicorn worker whose handler authorises WebSockets before upgrading them.

    gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker --workers 4 myproject.wsgi

Each worker process builds its own hub (one Redis pub/sub connection) after the fork.
"""

from __future__ import annotations

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

from .server import WebSocketUpgradeMixin

__all__ = ["GeventWebSocketWorker", "GunicornWebSocketHandler"]


class GunicornWebSocketHandler(WebSocketUpgradeMixin, PyWSGIHandler):
    """gunicorn's gevent handler (its access log included) with the deferred upgrade."""


class GeventWebSocketWorker(GeventPyWSGIWorker):
    """``gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker``."""

    wsgi_handler = GunicornWebSocketHandler
