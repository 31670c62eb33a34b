"""Shared waits and inspections for the integration tests: what Redis and the server see.

A WebSocket client gets its ``101`` before the server subscribes, so a test that publishes right
after connecting would race the subscription. These helpers wait, with a bound, until the real
Redis server reports the channels and the hub has attached every socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import websocket

WAIT = 5.0


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Poll *predicate* until it returns something truthy; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def pubsub_channels(redis_server: Any) -> set[str]:
    """The channels Redis has subscribers for, asked with redis-cli as an operator would."""
    output = redis_server.cli("PUBSUB", "CHANNELS")
    return set(output.split("\n")) - {""}


def redis_keys(redis_server: Any) -> set[str]:
    output = redis_server.cli("KEYS", "*")
    return set(output.split("\n")) - {""}


def wait_attached(server: Any, redis_server: Any, count: int) -> set[str]:
    """Wait until *count* sockets are attached to *server*'s hub and Redis confirms their channels.

    Returns the Redis channel names, so tests can also assert on them.
    """

    def ready() -> tuple[set[str]] | None:
        subscriptions = server.middleware.hub.subscriptions
        if len(subscriptions) != count:
            return None
        wanted = {name.decode() for s in subscriptions for name in s.channels}
        channels = pubsub_channels(redis_server)
        return (channels,) if wanted <= channels else None  # a tuple: truthy even when empty

    (result,) = wait_until(ready, what=f"{count} attached socket(s)")
    return result


def recv_frames(ws: websocket.WebSocket, count: int) -> list[tuple[int, bytes]]:
    """The next *count* data messages as ``(opcode, payload)``."""
    frames = []
    for _ in range(count):
        opcode, frame = ws.recv_data_frame()
        frames.append((opcode, frame.data))
    return frames


def close_all(sockets: Iterable[websocket.WebSocket]) -> None:
    for ws in sockets:
        ws.close(timeout=1)


def header_resolver(request: Any) -> Any:
    """A test resolver: identity from ``X-User``, ``X-Groups`` (comma-separated) and ``X-Session``."""
    from wsredis_middleware import Identity

    groups = request.headers.get("X-Groups", "")
    return Identity(
        user=request.headers.get("X-User"),
        groups=[g for g in groups.split(",") if g],
        session=request.headers.get("X-Session"),
    )


def identity_headers(user: str | None = None, groups: Iterable[str] = (), session: str | None = None) -> list[str]:
    """websocket-client ``header=`` lines that :func:`header_resolver` reads back."""
    headers = []
    if user is not None:
        headers.append(f"X-User: {user}")
    if groups:
        headers.append(f"X-Groups: {','.join(groups)}")
    if session is not None:
        headers.append(f"X-Session: {session}")
    return headers


def blank_request(user: str | None = None, groups: Iterable[str] = (), session: str | None = None) -> Any:
    """A WebOb request as the generic middleware would build it, carrying identity headers."""
    from webob import Request

    headers = dict(line.split(": ", 1) for line in identity_headers(user, groups, session))
    return Request.blank("/", headers=headers)
