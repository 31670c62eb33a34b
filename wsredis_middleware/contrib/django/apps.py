"""The Django app: wires settings, system checks, login/group receivers and publishing defaults."""

from __future__ import annotations

from django.apps import AppConfig, apps

from wsredis_middleware.config import Config
from wsredis_middleware.connection import register_config_provider

__all__ = ["WSRedisConfig", "django_config_provider"]


def django_config_provider() -> Config | None:
    """Let ``RedisPublisher()`` in views use Django settings without a ``connection=`` argument."""
    from .conf import get_config

    return get_config()


class WSRedisConfig(AppConfig):
    name = "wsredis_middleware.contrib.django"
    label = "wsredis"
    verbose_name = "WebSockets for Redis"
    default = True

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        if apps.is_installed("django.contrib.auth"):
            from .signals import connect_receivers

            connect_receivers()
        register_config_provider(django_config_provider)
