"""What publisher and subscriber share: the message type, ``SELF``, and publishing to Redis.

A message is stored in Redis exactly as given (no envelope), so any process that speaks Redis
(a Celery task, a Node service, ``redis-cli PUBLISH broadcast:foo hello``) can publish too.
"""

from __future__ import annotations

from collections.abc import Iterable
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any, Final

import redis

from .connection import resolve_connection
from .exceptions import WSRedisError

if TYPE_CHECKING:

    from .config import Config
    from .connection import ConnectionArg

__all__ = ["SELF", "RedisMessage", "RedisStore", "RedisUnavailable"]

_RETRY_FIRST_DELAY, _RETRY_MAX_DELAY = 0.05, 1.0


class RedisUnavailable(WSRedisError, redis.ConnectionError):
    """Redis could not be reached (within ``WS4REDIS_PUBLISH_RETRY_TIMEOUT``, if set)."""


class _SelfType:
    """The type of :data:`SELF`; there is one instance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SELF"

    def __reduce__(self) -> str:
        return "SELF"


#: In ``users=[SELF]``, ``groups=[SELF]`` or ``sessions=[SELF]``: the requesting user, all of
#: their groups, their session. An anonymous or sessionless request yields no channel at all.
SELF: Final = _SelfType()


class RedisMessage(bytes):
    """A message as it travels through Redis: bytes; ``str`` is encoded as UTF-8."""

    def __new__(cls, value: str | bytes | bytearray | memoryview) -> RedisMessage:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"RedisMessage takes str or bytes, not {type(value).__name__}")
        return super().__new__(cls, value)


class RedisStore:
    """Base of :class:`RedisPublisher` and :class:`RedisSubscriber`: publishes to a set of channels."""

    def __init__(self, connection: ConnectionArg = None) -> None:
        self._connection: redis.Redis
        self._config: Config
        self._connection, self._config = resolve_connection(connection)
        self._publishers: set[str] = set()

    @property
    def config(self) -> Config:
        """The settings (prefix, expiry) this store names and persists messages with."""
        return self._config

    def publish_message(self, message: Any, expire: int | None = None) -> int:
        """Publish *message* on every channel of this store; return the receivers Redis counted.

        Redis counts subscribed connections: one per server process that has a socket on the
        channel (its hub), plus any other subscriber such as ``wsredis listen``; not sockets.

        With ``expire`` > 0 (default: ``WS4REDIS_EXPIRE``) the message is also kept under the
        channel's name for that many seconds, so sockets that connect later receive it first.
        ``expire=0`` publishes without keeping it, and forgets any message kept before.
        An empty message is not published.
        """
        data = message if isinstance(message, bytes) else RedisMessage(message)
        if not data or not self._publishers:
            return 0
        channels = sorted(self._publishers)
        expire = self._config.expire if expire is None else expire
        deadline = monotonic() + self._config.publish_retry_timeout
        delay = _RETRY_FIRST_DELAY
        while True:
            try:
                return publish(self._connection, channels, data, expire)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if monotonic() + delay > deadline:
                    raise RedisUnavailable(
                        f"Redis at {self._config.connection.description} is unavailable ({exc}); "
                        "the message was not published"
                    ) from exc
            sleep(delay)  # cooperative under gevent
            delay = min(delay * 2, _RETRY_MAX_DELAY)


def publish(client: redis.Redis, channels: Iterable[str], data: bytes, expire: int) -> int:
    """PUBLISH (then SET with expiry, or DEL) on each channel in one round trip; the receiver count."""
    pipe = client.pipeline(transaction=False)
    for channel in channels:
        # PUBLISH before SET: a socket replaying persisted messages relies on this order.
        pipe.publish(channel, data)
        if expire > 0:
            pipe.set(channel, data, ex=expire)
        else:
            pipe.delete(channel)
    return sum(pipe.execute()[::2])
