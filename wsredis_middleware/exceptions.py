"""The exceptions wsredis-middleware raises, all under one root, ``WSRedisError``.

This module imports nothing but the standard library: gunicorn's master imports the package
before its workers monkey-patch. ``RedisUnavailable`` lives in ``redis_store``, next to redis.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "HandshakeError",
    "PermissionDenied",
    "ProtocolError",
    "WSRedisError",
    "is_permission_denied",
]


class WSRedisError(Exception):
    """Root of every exception this package raises on purpose."""


class ConfigurationError(WSRedisError):
    """A setting or the runtime environment is wrong; the message names the fix."""


class PermissionDenied(WSRedisError):
    """Raised by a resolver or an allowed-channels callback to refuse a handshake (HTTP 403).

    Django's ``django.core.exceptions.PermissionDenied`` and werkzeug's ``Forbidden``
    are honoured the same way, so framework code can keep raising what it knows.
    """


class HandshakeError(WSRedisError):
    """A WebSocket handshake that must be refused with an HTTP status."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ProtocolError(WSRedisError):
    """A peer broke the WebSocket protocol; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# Matched by name so that the core never imports Django or werkzeug.
_FOREIGN_DENIALS = frozenset(
    {
        ("django.core.exceptions", "PermissionDenied"),
        ("werkzeug.exceptions", "Forbidden"),
    }
)


def is_permission_denied(exc: BaseException) -> bool:
    """Tell whether *exc* means "refuse this handshake with 403"."""
    if isinstance(exc, PermissionDenied):
        return True
    return any((cls.__module__, cls.__qualname__) in _FOREIGN_DENIALS for cls in type(exc).__mro__)
