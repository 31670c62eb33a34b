"""The middleware under Django: resolvers and callbacks receive a Django ``WSGIRequest``.

    from wsredis_middleware.contrib.django import get_wsgi_application
    application = get_wsgi_application()

The request carries ``request.session`` (from ``SESSION_ENGINE`` and the session cookie) and a lazy
``request.user``, as Django's own middleware would attach them, unless
``WS4REDIS_PROCESS_REQUEST`` is set: then that callable prepares the request instead, as in ws4redis.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import connections
from django.utils.functional import SimpleLazyObject

from wsredis_middleware.middleware import WebSocketRedisMiddleware

from .conf import get_config

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from wsredis_middleware.config import Config
    from wsredis_middleware.subscriber import RedisSubscriber

__all__ = ["DjangoWebSocketRedisMiddleware", "attach_session_and_user"]


def attach_session_and_user(request: WSGIRequest) -> None:
    """Give *request* ``.session`` and a lazy ``.user``, like Django's session and auth middleware."""
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth import get_user

        request.user = SimpleLazyObject(lambda: get_user(request))


class DjangoWebSocketRedisMiddleware(WebSocketRedisMiddleware):
    """``WebSocketRedisMiddleware`` configured from Django settings, handing out Django requests."""

    def __init__(self, app: WSGIApplication, *, config: Config | None = None) -> None:
        super().__init__(app, config=config if config is not None else get_config())

    def make_request(self, environ: WSGIEnvironment) -> Any:
        request = WSGIRequest(environ)
        if self.config.process_request is None:
            attach_session_and_user(request)
        return request

    def prepare(self, environ: WSGIEnvironment) -> tuple[Any, RedisSubscriber, bool]:
        try:
            return super().prepare(environ)
        finally:
            # A callback may have used the database. The socket that follows can live for hours in
            # this greenlet: it must not hold a database connection all that time.
            for connection in connections.all(initialized_only=True):
                connection.close()
