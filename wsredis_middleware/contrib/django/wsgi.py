"""``get_wsgi_application()``: Django's WSGI application with WebSockets, for gunicorn and friends.

    # myproject/wsgi.py
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
    from wsredis_middleware.contrib.django import get_wsgi_application
    application = get_wsgi_application()

    $ gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker myproject.wsgi
"""

from __future__ import annotations

from .middleware import DjangoWebSocketRedisMiddleware

__all__ = ["get_wsgi_application"]


def get_wsgi_application() -> DjangoWebSocketRedisMiddleware:
    """Set Django up and return its WSGI application wrapped by the WebSocket middleware."""
    from django.core.wsgi import get_wsgi_application as django_wsgi_application

    return DjangoWebSocketRedisMiddleware(django_wsgi_application())
