"""Persisted-message lookups, shared by the sockets that connect at the same time.

Every new socket reads the persisted message of each of its channels. Done one ``MGET`` per
socket, a connect storm (a deploy, a Redis failover: thousands of browsers reconnecting) fills
the connection pool and makes thousands of round trips. Here the lookups that arrive while one
is under way wait for it and then go together as one ``MGET``, on one connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult

if TYPE_CHECKING:
    import redis

__all__ = ["PersistedLookup"]

_MAX_BATCH = 1_000  # lookups per MGET, so one reply stays a reasonable size


class PersistedLookup:
    """Batches ``MGET`` calls from many greenlets into few."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._queue: list[tuple[list[str], AsyncResult]] = []
        self._worker: gevent.Greenlet | None = None

    def mget(self, names: list[str], timeout: float) -> list[bytes | None]:
        """The values of *names*, in order (None where nothing is persisted)."""
        result = AsyncResult()
        self._queue.append((names, result))
        if self._worker is None:
            self._worker = gevent.spawn(self._run)
        values: list[bytes | None] = result.get(timeout=timeout)
        return values

    def _run(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
                keys = list(dict.fromkeys(name for names, _ in batch for name in names))
                try:
                    found = dict(zip(keys, self._client.mget(keys), strict=True))
                except Exception as exc:  # every waiter gets the error, as its own MGET would have
                    for _, result in batch:
                        result.set_exception(exc)
                    continue
                for names, result in batch:
                    result.set([found[name] for name in names])
        finally:
            self._worker = None
