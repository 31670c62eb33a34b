"""Abuse limits: sockets per client address, channels per socket, publications per second.

Each limit answers before it costs anything: too many sockets or channels is an HTTP status
before the upgrade, a client publishing too fast is closed with 1008. Only global (public)
addresses are counted per address: behind a reverse proxy every client has the proxy's
address, and per-client limits belong to the proxy there (nginx ``limit_conn``).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Mapping
from time import monotonic
from typing import Any

from .exceptions import HandshakeError

__all__ = ["AddressLimiter", "PublishRate", "check_subscription_count"]


def _is_shared_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True  # a unix socket peer or something unparsable: nothing to count by
    return not ip.is_global  # loopback, private, link-local, reserved: a proxy or a test, not a client


class AddressLimiter:
    """Counts open sockets per client address (``REMOTE_ADDR``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def acquire(self, environ: Mapping[str, Any]) -> str | None:
        """Count one more socket for this client; raise 429 past the limit. Returns the key to release."""
        address: str = environ.get("REMOTE_ADDR", "")
        if not self._limit or _is_shared_address(address):
            return None
        if self._open[address] >= self._limit:
            raise HandshakeError(
                "429 Too Many Requests",
                f"This address already has {self._limit} open WebSockets (WS4REDIS_MAX_SOCKETS_PER_ADDRESS).",
            )
        self._open[address] += 1
        return address

    def release(self, address: str | None) -> None:
        if address is None:
            return
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]


def check_subscription_count(count: int, limit: int) -> None:
    """Refuse a socket that would subscribe to more channels than allowed (400)."""
    if limit and count > limit:
        raise HandshakeError(
            "400 Bad Request",
            f"This socket would subscribe to {count} channels; the limit is {limit} (WS4REDIS_MAX_SUBSCRIPTIONS).",
        )


class PublishRate:
    """A token bucket: *rate* publications per second on average, bursts of up to one second's worth."""

    __slots__ = ("_capacity", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._updated = monotonic()

    def allow(self) -> bool:
        """Take a token if one is left; an unlimited rate (0) always allows."""
        if not self._rate:
            return True
        now = monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
