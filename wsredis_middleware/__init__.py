"""Real-time push for any WSGI application: WebSockets relayed through Redis pub/sub.

    from wsredis_middleware import WebSocketRedisMiddleware, RedisPublisher, RedisMessage, SELF

Importing the package is cheap and never imports Django, Flask or gevent: names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, PermissionDenied, WSRedisError

if TYPE_CHECKING:
    from .middleware import WebSocketRedisMiddleware
    from .publisher import RedisPublisher
    from .redis_store import SELF, RedisMessage, RedisUnavailable
    from .resolvers import Identity

__version__ = "0.1.0"
__all__ = [
    "SELF", "ConfigurationError", "Identity", "PermissionDenied", "RedisMessage", "RedisPublisher",
    "RedisUnavailable", "WSRedisError", "WebSocketRedisMiddleware",
]

_LAZY = {
    "WebSocketRedisMiddleware": "middleware",
    "RedisPublisher": "publisher",
    "RedisMessage": "redis_store",
    "SELF": "redis_store",
    "RedisUnavailable": "redis_store",
    "Identity": "resolvers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
