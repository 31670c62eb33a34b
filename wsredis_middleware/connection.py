"""Redis clients, and the configuration that server code publishes with when it names none.

Clients are cached per connection setting and use a *blocking* pool: when every connection is
busy, a greenlet waits for one instead of failing (redis-py's default pool raises beyond its cap,
which took down ws4redis and channels_redis under publishing bursts). redis-py pools reset
themselves after ``fork``, so a cached client is safe in gunicorn workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import redis

from .config import Config, ConnectionSettings

if TYPE_CHECKING:
    from typing import TypeAlias

    ConnectionArg: TypeAlias = "redis.Redis | Config | ConnectionSettings | str | Mapping[str, Any] | None"

__all__ = [
    "active_config", "client_for", "configure", "register_config_provider", "resolve_connection",
    "unregister_config_provider",
]

_POOL_WAIT_SECONDS = 20.0  # longer than any sane Redis hiccup, shorter than a hung request
_clients: dict[tuple[str, int], redis.Redis] = {}
_lock = threading.Lock()
_providers: list[Callable[[], Config | None]] = []
_default: Config | None = None


def client_for(settings: ConnectionSettings, *, max_connections: int = 50) -> redis.Redis:
    """The shared client for *settings* (one blocking pool per setting and size)."""
    key = (repr((sorted(settings.kwargs.items()), settings.sentinels, settings.service_name)), max_connections)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                pool = settings.make_pool(blocking=True, max_connections=max_connections, timeout=_POOL_WAIT_SECONDS)
                client = _clients[key] = redis.Redis(connection_pool=pool)
    return client


def register_config_provider(provider: Callable[[], Config | None]) -> None:
    """Let an integration supply the active configuration (Flask: the app in context).

    Providers are asked in registration order; the first that returns a Config wins.
    """
    if provider not in _providers:
        _providers.append(provider)


def unregister_config_provider(provider: Callable[[], Config | None]) -> None:
    """Stop asking *provider* (an integration being torn down, or tests)."""
    if provider in _providers:
        _providers.remove(provider)


def configure(config: Config | None = None, **settings: Any) -> Config:
    """Set the configuration that ``RedisPublisher()`` uses when no integration provides one.

    The first middleware built in a process calls this for you; call it yourself in processes
    that only publish (workers, scripts), e.g. ``configure(connection="redis://redis:6379/0")``.
    """
    global _default
    _default = config if config is not None else Config.from_kwargs(**settings)
    return _default


def active_config() -> Config:
    """The configuration in force here: an integration's, else the process default."""
    for provider in _providers:
        config = provider()
        if config is not None:
            return config
    return _default if _default is not None else configure()


def has_default() -> bool:
    return _default is not None


def resolve_connection(connection: ConnectionArg) -> tuple[redis.Redis, Config]:
    """Turn a publisher's ``connection=`` argument into a client and the settings to use with it.

    Prefix and expiry always come from the active configuration unless a Config is given.
    """
    if isinstance(connection, Config):
        return client_for(connection.connection, max_connections=connection.max_connections), connection
    config = active_config()
    if connection is None:
        return client_for(config.connection, max_connections=config.max_connections), config
    if isinstance(connection, redis.Redis):
        return connection, config
    return client_for(ConnectionSettings.parse(connection), max_connections=config.max_connections), config
