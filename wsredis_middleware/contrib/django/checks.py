"""System checks: bad settings and a wrong app order are reported by ``manage.py check``.

They run before ``runserver`` starts serving and on every deployment check, so a typo in a
``WS4REDIS_*`` setting is an error with the fix in it, not a traceback at the first WebSocket.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from wsredis_middleware.exceptions import ConfigurationError

from .conf import get_config

__all__ = ["FINDER", "check_app_order", "check_settings", "check_static_finder"]

APP = "wsredis_middleware.contrib.django"
STATICFILES = "django.contrib.staticfiles"
FINDER = "wsredis_middleware.contrib.django.finders.WSRedisFinder"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every ``WEBSOCKET_URL`` / ``WS4REDIS_*`` setting must validate."""
    try:
        get_config()
    except ConfigurationError as exc:
        return [Error(str(exc), hint="Fix this setting in your Django settings module.", id="wsredis.E001")]
    return []


def _app_index(name: str) -> int | None:
    for index, entry in enumerate(settings.INSTALLED_APPS):
        if entry == name or entry.startswith(f"{name}.apps."):
            return index
    return None


def check_app_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The first app providing ``runserver`` wins; ours must precede staticfiles' to serve WebSockets."""
    ours, static = _app_index(APP), _app_index(STATICFILES)
    if ours is not None and static is not None and static < ours:
        return [Warning(
            f"{STATICFILES!r} comes before {APP!r} in INSTALLED_APPS, so `manage.py runserver` is "
            "Django's and does not serve WebSockets.",
            hint=f"Move {APP!r} above {STATICFILES!r} (static files are still served).",
            id="wsredis.W001",
        )]
    return []


def check_static_finder(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``{% static 'wsredis/wsredis.js' %}`` needs our finder among ``STATICFILES_FINDERS``."""
    if _app_index(STATICFILES) is None or FINDER in settings.STATICFILES_FINDERS:
        return []
    return [Warning(
        "The JavaScript client 'wsredis/wsredis.js' cannot be found by django.contrib.staticfiles.",
        hint=(
            "Add it to STATICFILES_FINDERS: ['django.contrib.staticfiles.finders.FileSystemFinder', "
            f"'django.contrib.staticfiles.finders.AppDirectoriesFinder', '{FINDER}']."
        ),
        id="wsredis.W002",
    )]


for _check in (check_settings, check_app_order, check_static_finder):
    register(_check)
