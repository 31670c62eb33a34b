"""``manage.py runserver`` serving pages *and* WebSockets, under gevent, with Django's autoreloader.

It replaces staticfiles' ``runserver`` when that app is installed (so static files are still
served) and Django's otherwise. Django lets the first app in ``INSTALLED_APPS`` that provides a
command win, so this app must come before ``django.contrib.staticfiles`` (check ``wsredis.W001``).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from gevent import monkey

from wsredis_middleware.middleware import WebSocketRedisMiddleware

from ...devserver import DevelopmentServer
from ...middleware import DjangoWebSocketRedisMiddleware

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import Command as BaseCommand
else:
    from django.core.management.commands.runserver import Command as BaseCommand

__all__ = ["MONKEY_PATCH_MESSAGE", "Command"]

MONKEY_PATCH_MESSAGE = (
    "runserver with WebSockets needs gevent monkey-patching before Django is imported. Add these "
    "as the first two lines of manage.py:\n\n"
    "    from gevent import monkey\n"
    "    monkey.patch_all()\n"
)


class Command(BaseCommand):
    help = "Starts a development server for pages and WebSockets (gevent, with autoreload)."
    server_cls = DevelopmentServer

    def handle(self, *args: Any, **options: Any) -> None:
        if not monkey.is_module_patched("socket"):
            raise CommandError(MONKEY_PATCH_MESSAGE)
        super().handle(*args, **options)

    def get_handler(self, *args: Any, **options: Any) -> Any:
        """Django's handler (with static files if staticfiles is on), wrapped for WebSockets."""
        handler = super().get_handler(*args, **options)
        if isinstance(getattr(handler, "application", handler), WebSocketRedisMiddleware):
            return handler  # WSGI_APPLICATION already points at get_wsgi_application()
        return DjangoWebSocketRedisMiddleware(handler)
