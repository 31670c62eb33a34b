"""Settings: read once at start-up, validated, frozen into one ``Config`` passed down.

Every setting has one name in three spellings: ``WEBSOCKET_URL`` / ``WS4REDIS_EXPIRE`` in Django
settings and Flask ``app.config``, ``websocket_url`` / ``expire`` as a middleware keyword argument.
Callables may be given as dotted paths; a path that does not import is a start-up error.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from .exceptions import ConfigurationError
from .redis_settings import DEFAULT_CONNECTION, ConnectionSettings

__all__ = ["DEFAULT_CONNECTION", "Config", "ConnectionSettings", "load_object", "require_gevent_patched"]

def load_object(value: Any, setting: str) -> Any:
    """Return *value*, importing it first when it is a ``"package.module.name"`` string."""
    if not isinstance(value, str):
        return value
    module_name, _, attribute = value.rpartition(".")
    if not module_name:
        raise ConfigurationError(f"{setting} = {value!r} is not a dotted path like 'myapp.module.name'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{setting} = {value!r}: module {module_name!r} does not import ({exc}).") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(f"{setting} = {value!r}: module {module_name!r} has no {attribute!r}.") from None


def _callable_or_none(value: Any, setting: str) -> Callable[..., Any] | None:
    obj = load_object(value, setting)
    if obj is not None and not callable(obj):
        raise ConfigurationError(f"{setting} must be a callable or a dotted path to one, not {obj!r}.")
    return cast("Callable[..., Any] | None", obj)


def _allowed_channels(value: Any) -> Callable[..., Any] | frozenset[str] | None:
    obj = load_object(value, "WS4REDIS_ALLOWED_CHANNELS")
    if obj is None or callable(obj):
        return cast("Callable[..., Any] | None", obj)
    if isinstance(obj, str) or not isinstance(obj, Iterable):
        raise ConfigurationError(
            "WS4REDIS_ALLOWED_CHANNELS must be a callable (request, channels) -> channels, "
            "or a list such as ['subscribe-broadcast', 'publish-broadcast']."
        )
    from .channels import QUERY_KEYS

    channels = frozenset(str(c).strip().lower() for c in obj)
    unknown = sorted(channels - QUERY_KEYS)
    if unknown:
        raise ConfigurationError(
            f"WS4REDIS_ALLOWED_CHANNELS names unknown channel(s) {', '.join(unknown)}; "
            f"known ones are {', '.join(sorted(QUERY_KEYS))}."
        )
    return channels


def _websocket_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or not value.endswith("/"):
        raise ConfigurationError(f"WEBSOCKET_URL must start and end with '/', like '/ws/', not {value!r}.")
    return value


def _number(value: Any, setting: str, *, minimum: float, integer: bool = False) -> Any:
    kind = int if integer else float
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigurationError(f"{setting} must be a number >= {minimum}, not {value!r}.")
    return kind(value)


def _prefix(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        raise ConfigurationError(f"WS4REDIS_PREFIX must be a string without whitespace, not {value!r}.")
    return value


def _origins(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    origins = set()
    for origin in value or ():
        origin = str(origin).strip().lower().rstrip("/")
        if origin != "*" and not urlsplit(origin).scheme:
            raise ConfigurationError(
                f"WS4REDIS_ALLOWED_ORIGINS entry {origin!r} needs a scheme, like 'https://example.com', or '*'."
            )
        origins.add(origin)
    return frozenset(origins)


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting, validated. Build it with :meth:`from_kwargs` or :meth:`from_settings`."""

    websocket_url: str
    connection: ConnectionSettings
    expire: int
    prefix: str
    heartbeat: str | None
    allowed_channels: Callable[..., Any] | frozenset[str] | None
    subscriber: type
    process_request: Callable[..., Any] | None
    resolver: Callable[..., Any]
    allowed_origins: frozenset[str]
    max_message_size: int
    # Timing and capacity knobs; the defaults suit browsers behind ordinary proxies.
    heartbeat_interval: float
    ping_interval: float
    ping_timeout: float
    send_queue_bytes: int
    max_connections: int
    subscribe_timeout: float
    close_timeout: float
    publish_retry_timeout: float
    max_publish_rate: float
    max_sockets_per_address: int
    max_subscriptions: int
    handshake_timeout: float

    @classmethod
    def from_kwargs(
        cls,
        *,
        websocket_url: str = "/ws/",
        connection: str | Mapping[str, Any] | ConnectionSettings | None = None,
        expire: int = 3600,  # ws4redis's default: replay the last message for an hour
        prefix: str | None = None,
        heartbeat: str | None = None,  # None: no heartbeat sent nor expected
        allowed_channels: Any = None,  # None: every subscribe-*, no publish-*
        subscriber: Any = None,
        process_request: Any = None,
        resolver: Any = None,
        allowed_origins: Iterable[str] | str = (),  # the request's own host is always allowed
        max_message_size: int = 64 * 1024,
        heartbeat_interval: float = 4.0,  # ws4redis clients expect one at least every 5 s
        ping_interval: float = 20.0,  # below common proxy idle timeouts (nginx: 60 s)
        ping_timeout: float = 20.0,
        send_queue_bytes: int = 1024 * 1024,  # per socket; a reader this far behind is closed (1013)
        max_connections: int = 50,  # Redis connections for publishing; greenlets wait, never fail
        subscribe_timeout: float = 5.0,
        close_timeout: float = 5.0,
        publish_retry_timeout: float = 0.0,  # 0: RedisPublisher raises RedisUnavailable at once
        max_publish_rate: float = 10.0,  # per socket and second, bursts of one second's worth; 0: unlimited
        max_sockets_per_address: int = 256,  # public addresses only (a proxy's clients share its address)
        max_subscriptions: int = 100,  # channels per socket; a user in more groups is refused (400)
        handshake_timeout: float = 10.0,  # to send complete request headers (slowloris); also keep-alive idle
    ) -> Config:
        """Validate keyword settings (the middleware's arguments) into a Config."""
        from .resolvers import resolve_remote_user
        from .subscriber import RedisSubscriber

        subscriber_class = load_object(subscriber, "WS4REDIS_SUBSCRIBER") or RedisSubscriber
        if not (isinstance(subscriber_class, type) and issubclass(subscriber_class, RedisSubscriber)):
            raise ConfigurationError(
                f"WS4REDIS_SUBSCRIBER must be a subclass of wsredis_middleware.subscriber.RedisSubscriber, "
                f"not {subscriber_class!r}."
            )
        if heartbeat is not None and (not isinstance(heartbeat, str) or not heartbeat):
            raise ConfigurationError(f"WS4REDIS_HEARTBEAT must be a non-empty string or None, not {heartbeat!r}.")
        return cls(
            websocket_url=_websocket_url(websocket_url),
            connection=ConnectionSettings.parse(connection),
            expire=_number(expire, "WS4REDIS_EXPIRE", minimum=0, integer=True),
            prefix=_prefix(prefix),
            heartbeat=heartbeat,
            allowed_channels=_allowed_channels(allowed_channels),
            subscriber=subscriber_class,
            process_request=_callable_or_none(process_request, "WS4REDIS_PROCESS_REQUEST"),
            resolver=_callable_or_none(resolver, "WS4REDIS_RESOLVER") or resolve_remote_user,
            allowed_origins=_origins(allowed_origins),
            max_message_size=_number(max_message_size, "WS4REDIS_MAX_MESSAGE_SIZE", minimum=1, integer=True),
            heartbeat_interval=_number(heartbeat_interval, "WS4REDIS_HEARTBEAT_INTERVAL", minimum=0.01),
            ping_interval=_number(ping_interval, "WS4REDIS_PING_INTERVAL", minimum=0.01),
            ping_timeout=_number(ping_timeout, "WS4REDIS_PING_TIMEOUT", minimum=0.01),
            send_queue_bytes=_number(send_queue_bytes, "WS4REDIS_SEND_QUEUE_BYTES", minimum=1, integer=True),
            max_connections=_number(max_connections, "WS4REDIS_MAX_CONNECTIONS", minimum=1, integer=True),
            subscribe_timeout=_number(subscribe_timeout, "WS4REDIS_SUBSCRIBE_TIMEOUT", minimum=0.01),
            close_timeout=_number(close_timeout, "WS4REDIS_CLOSE_TIMEOUT", minimum=0.01),
            publish_retry_timeout=_number(publish_retry_timeout, "WS4REDIS_PUBLISH_RETRY_TIMEOUT", minimum=0),
            max_publish_rate=_number(max_publish_rate, "WS4REDIS_MAX_PUBLISH_RATE", minimum=0),
            max_sockets_per_address=_number(
                max_sockets_per_address, "WS4REDIS_MAX_SOCKETS_PER_ADDRESS", minimum=0, integer=True),
            max_subscriptions=_number(max_subscriptions, "WS4REDIS_MAX_SUBSCRIPTIONS", minimum=0, integer=True),
            handshake_timeout=_number(handshake_timeout, "WS4REDIS_HANDSHAKE_TIMEOUT", minimum=0.01),
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> Config:
        """Read ``WEBSOCKET_URL`` and ``WS4REDIS_*`` names from a settings mapping (Django, Flask)."""
        kwargs: dict[str, Any] = {}
        for name in SETTING_NAMES:
            setting = setting_name(name)
            if setting in settings:
                kwargs[name] = settings[setting]
        kwargs.update(overrides)
        return cls.from_kwargs(**kwargs)


SETTING_NAMES = tuple(
    name for name in Config.__dataclass_fields__  # keyword names, in declaration order
)


def setting_name(keyword: str) -> str:
    """``expire`` -> ``WS4REDIS_EXPIRE``; ``websocket_url`` -> ``WEBSOCKET_URL``."""
    return "WEBSOCKET_URL" if keyword == "websocket_url" else f"WS4REDIS_{keyword.upper()}"


def require_gevent_patched() -> None:
    """Fail fast when the standard library was not monkey-patched by gevent.

    Unpatched sockets would make one slow Redis read or one quiet browser block every other
    connection in the process.
    """
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise ConfigurationError(
            "gevent monkey-patching is missing: call `from gevent import monkey; monkey.patch_all()` "
            "as the very first lines of your entry point, before the application is imported; or start "
            "it with `wsredis serve MODULE:APP` or `gunicorn -k wsredis_middleware.gunicorn."
            "GeventWebSocketWorker` (without --preload), which patch before importing your application."
        )
