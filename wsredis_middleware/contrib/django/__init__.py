"""Django integration: an installable app that makes a Django project speak WebSockets via Redis.

    INSTALLED_APPS = ["wsredis_middleware.contrib.django", ..., "django.contrib.staticfiles"]
    TEMPLATES[0]["OPTIONS"]["context_processors"] += [
        "wsredis_middleware.contrib.django.context_processors.default"]
    STATICFILES_FINDERS = [... Django's two ..., "wsredis_middleware.contrib.django.finders.WSRedisFinder"]

``manage.py runserver`` then serves WebSockets too; in production use :func:`get_wsgi_application`.
Settings keep ws4redis's names (``WEBSOCKET_URL``, ``WS4REDIS_*``); see docs/django.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .middleware import DjangoWebSocketRedisMiddleware

__all__ = ["get_wsgi_application"]


def get_wsgi_application() -> DjangoWebSocketRedisMiddleware:
    """Django's WSGI application wrapped by the WebSocket middleware (see :mod:`.wsgi`)."""
    # Imported here: Django imports this package while loading apps, before models are ready.
    from .wsgi import get_wsgi_application as wrapped

    return wrapped()
