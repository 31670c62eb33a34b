"""Django settings, read once into a :class:`~wsredis_middleware.config.Config`.

Every ``WEBSOCKET_URL`` / ``WS4REDIS_*`` name the core knows is looked up in ``django.conf.settings``;
unset names keep the core's defaults, except the resolver, which defaults to the Django one. The
result is cached and rebuilt only when a test changes a setting (``override_settings``).
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from wsredis_middleware.config import SETTING_NAMES, Config, setting_name

__all__ = ["DEFAULT_RESOLVER", "get_config", "reset_config", "settings_mapping"]

DEFAULT_RESOLVER = "wsredis_middleware.contrib.django.resolver.resolve_django_identity"
_SETTINGS = frozenset(setting_name(name) for name in SETTING_NAMES)

_lock = threading.Lock()
_config: Config | None = None


def settings_mapping() -> dict[str, Any]:
    """The ``WEBSOCKET_URL`` and ``WS4REDIS_*`` values present in Django settings."""
    mapping = {name: getattr(settings, name) for name in _SETTINGS if hasattr(settings, name)}
    if mapping.get("WS4REDIS_RESOLVER") is None:
        mapping["WS4REDIS_RESOLVER"] = DEFAULT_RESOLVER
    return mapping


def get_config() -> Config:
    """The validated configuration; raises ``ConfigurationError`` naming the setting to fix."""
    global _config
    config = _config
    if config is None:
        with _lock:
            if _config is None:
                _config = Config.from_settings(settings_mapping())
            config = _config
    return config


def reset_config(**kwargs: Any) -> None:
    """Forget the cached configuration so that the next :func:`get_config` reads settings again."""
    global _config
    with _lock:
        _config = None


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        reset_config()


setting_changed.connect(_on_setting_changed, dispatch_uid="wsredis-settings-changed")
