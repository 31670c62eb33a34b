"""A server for ``manage.py runserver``: gevent with our WebSocket handler, shaped like Django's.

Django's ``runserver`` builds its server as ``server_cls(address, handler_class, ipv6=...)``, calls
``set_app(app)`` and ``serve_forever()``. :class:`DevelopmentServer` answers the same calls, so the
command keeps all of Django's own behaviour (system checks, migration warnings, the banner, the
autoreloader, "port already in use") and only the serving loop changes.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from gevent.pywsgi import WSGIServer

from wsredis_middleware.server import WebSocketHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DevelopmentServer"]

_BACKLOG = 128


class DevelopmentServer:
    """Binds at construction (so address errors surface where Django expects them), serves on demand."""

    def __init__(self, server_address: tuple[str, int], handler_class: Any = None, *, ipv6: bool = False,
                 **kwargs: Any) -> None:
        self._listener = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(server_address)
            self._listener.listen(_BACKLOG)
        except OSError:
            self._listener.close()
            raise
        self.server_port: int = self._listener.getsockname()[1]
        self._server: WSGIServer | None = None

    def set_app(self, application: WSGIApplication) -> None:
        self._server = WSGIServer(
            self._listener, application, handler_class=WebSocketHandler,
            log=logging.getLogger("django.server"),  # where Django's dev server logs requests
        )

    def serve_forever(self) -> None:
        if self._server is None:
            raise RuntimeError("set_app() must be called before serve_forever()")
        self._server.serve_forever()
