"""Where Redis is: ``WS4REDIS_CONNECTION`` parsed into connection pools.

Accepted forms: a ``redis://``, ``rediss://`` or ``unix://`` URL; a ``redis+sentinel://`` (or
``rediss+sentinel://``) URL naming sentinels and a service, ``redis+sentinel://:password@
sentinel1:26379,sentinel2:26379/mymaster/0``; or a ws4redis-style dict (``host``, ``port``,
``db``, ``password``, ``unix_socket_path``, ...; with ``sentinels`` and ``service_name`` for
Sentinel). Mistakes are start-up errors that say what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedSSLConnection

from .exceptions import ConfigurationError

__all__ = ["DEFAULT_CONNECTION", "ConnectionSettings"]

DEFAULT_CONNECTION = "redis://127.0.0.1:6379/0"
_URL_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")
# The keys ws4redis accepted, plus TLS, timeouts and Sentinel, which production set-ups need.
# Anything else is a typo we would rather report than ignore.
_CONNECTION_KEYS = frozenset(
    {
        "host", "port", "db", "password", "username", "unix_socket_path", "ssl",
        "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname",
        "socket_timeout", "socket_connect_timeout",
        "sentinels", "service_name", "sentinel_password", "sentinel_username",
    }
)
_SENTINEL_PORT = 26379


class _BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """A Sentinel-managed pool whose callers wait for a free connection instead of failing."""


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """Connection keyword arguments for redis-py, plus Sentinel details and a password-free description."""

    kwargs: Mapping[str, Any]
    description: str
    sentinels: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    sentinel_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | ConnectionSettings | None) -> ConnectionSettings:
        """Accept any form of ``WS4REDIS_CONNECTION`` (see the module docstring), or None for the default."""
        if isinstance(value, ConnectionSettings):
            return value
        if value is None:
            value = DEFAULT_CONNECTION
        if isinstance(value, str):
            return cls._from_url(value)
        if isinstance(value, Mapping):
            return cls._from_mapping(value)
        raise ConfigurationError(
            f"WS4REDIS_CONNECTION must be a redis:// URL or a dict, not {type(value).__name__}."
        )

    def make_pool(self, *, blocking: bool = False, **overrides: Any) -> redis.ConnectionPool:
        """A new connection pool; ``blocking=True`` takes ``max_connections`` and ``timeout``."""
        kwargs = {**self.kwargs, **overrides}
        if self.service_name is not None:
            sentinel = Sentinel(self.sentinels, sentinel_kwargs=dict(self.sentinel_kwargs))
            pool_class = _BlockingSentinelPool if blocking else SentinelConnectionPool
            return pool_class(self.service_name, sentinel, **kwargs)
        if blocking:
            return redis.BlockingConnectionPool(**kwargs)
        kwargs.pop("timeout", None)
        return redis.ConnectionPool(**kwargs)

    # -- parsing ---------------------------------------------------------------------------------

    @classmethod
    def _from_url(cls, url: str) -> ConnectionSettings:
        scheme = urlsplit(url).scheme
        if scheme not in _URL_SCHEMES:
            raise _error(f"URL {_redact(url)!r} has scheme {scheme!r}; use one of "
                         + ", ".join(f"{s}://" for s in _URL_SCHEMES) + ".")
        if scheme.endswith("+sentinel"):
            return cls._from_sentinel_url(url)
        try:
            kwargs = parse_url(url)
        except ValueError as exc:
            raise _error(f"URL {_redact(url)!r} is malformed: {exc}") from None
        return cls(kwargs=kwargs, description=_redact(url))

    @classmethod
    def _from_sentinel_url(cls, url: str) -> ConnectionSettings:
        parts = urlsplit(url)
        userinfo, _, hosts = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        path = [p for p in parts.path.split("/") if p]
        if not hosts or not path or len(path) > 2:
            raise _error(f"URL {_redact(url)!r} must look like "
                         "redis+sentinel://[:password@]host:26379[,host2:26379]/service_name[/db].")
        mapping: dict[str, Any] = {
            "sentinels": hosts.split(","),
            "service_name": unquote(path[0]),
            "db": path[1] if len(path) == 2 else 0,
            **dict(parse_qsl(parts.query)),
        }
        if username:
            mapping["username"] = unquote(username)
        if password:
            mapping["password"] = unquote(password)
        if parts.scheme.startswith("rediss"):
            mapping["ssl"] = True
        settings = cls._from_mapping(mapping)
        return dataclasses.replace(settings, description=_redact(url))

    @classmethod
    def _from_mapping(cls, value: Mapping[str, Any]) -> ConnectionSettings:
        unknown = sorted(set(value) - _CONNECTION_KEYS)
        if unknown:
            raise _error(f"has unknown key(s) {', '.join(unknown)}; "
                         f"allowed keys are {', '.join(sorted(_CONNECTION_KEYS))}.")
        kwargs = dict(value)
        for key in ("port", "db"):
            if key in kwargs:
                kwargs[key] = _integer(kwargs[key], key)
        if "sentinels" in kwargs or "service_name" in kwargs:
            return cls._sentinel(kwargs)
        if kwargs.get("unix_socket_path"):
            for key in ("host", "port", "ssl"):
                kwargs.pop(key, None)
            kwargs["path"] = kwargs.pop("unix_socket_path")
            kwargs["connection_class"] = UnixDomainSocketConnection
            return cls(kwargs=kwargs, description=f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}")
        scheme = "redis"
        if kwargs.pop("ssl", False):
            kwargs["connection_class"] = SSLConnection
            scheme = "rediss"
        host, port, db = kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379), kwargs.get("db", 0)
        return cls(kwargs=kwargs, description=f"{scheme}://{host}:{port}/{db}")

    @classmethod
    def _sentinel(cls, kwargs: dict[str, Any]) -> ConnectionSettings:
        service_name = kwargs.pop("service_name", None)
        sentinels = _sentinel_addresses(kwargs.pop("sentinels", None))
        if not service_name or not isinstance(service_name, str):
            raise _error("with 'sentinels' needs 'service_name', the name of the monitored master (e.g. 'mymaster').")
        for key in ("host", "port", "unix_socket_path"):
            if key in kwargs:
                raise _error(f"with 'sentinels' cannot also set {key!r}: the sentinels tell where the master is.")
        sentinel_kwargs = {
            key: kwargs.pop(f"sentinel_{key}") for key in ("password", "username") if f"sentinel_{key}" in kwargs
        }
        for key in ("socket_timeout", "socket_connect_timeout"):
            if key in kwargs:
                sentinel_kwargs[key] = kwargs[key]
        if kwargs.pop("ssl", False):
            kwargs["connection_class"] = SentinelManagedSSLConnection
        hosts = ",".join(f"{h}:{p}" for h, p in sentinels)
        return cls(
            kwargs=kwargs, description=f"redis+sentinel://{hosts}/{service_name}/{kwargs.get('db', 0)}",
            sentinels=sentinels, service_name=service_name, sentinel_kwargs=sentinel_kwargs,
        )


def _sentinel_addresses(value: Any) -> tuple[tuple[str, int], ...]:
    if not value or isinstance(value, str) or not isinstance(value, Sequence):
        raise _error("'sentinels' must be a list of (host, port) pairs or 'host:port' strings.")
    addresses = []
    for entry in value:
        if isinstance(entry, str):
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", str(_SENTINEL_PORT))
        else:
            try:
                host, port = entry
            except (TypeError, ValueError):
                raise _error(f"sentinel {entry!r} is not a (host, port) pair.") from None
        addresses.append((str(host), _integer(port, "sentinel port")))
    return tuple(addresses)


def _integer(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"WS4REDIS_CONNECTION[{what!r}] must be an integer, not {value!r}.") from None


def _error(message: str) -> ConfigurationError:
    return ConfigurationError(f"WS4REDIS_CONNECTION {message}")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
