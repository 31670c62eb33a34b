"""Keeping sockets honest: heartbeats for idle ones, protocol pings for quiet ones, an end for dead ones.

One greenlet per process walks every socket a few times a second, so an idle socket needs no
timer or greenlet of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import monotonic
from typing import TYPE_CHECKING

import gevent

from .frames import encode_message

if TYPE_CHECKING:
    from .config import Config
    from .subscription import Subscription

__all__ = ["sweep_forever"]

logger = logging.getLogger(__name__)


def sweep_forever(config: Config, subscriptions: Callable[[], Iterable[Subscription]]) -> None:
    """Check the sockets that *subscriptions* returns, a few times per shortest interval, forever."""
    heartbeat = encode_message(config.heartbeat.encode("utf-8")) if config.heartbeat else None
    tick = max(0.05, min(1.0, config.heartbeat_interval / 4, config.ping_interval / 4, config.ping_timeout / 4))
    while True:
        gevent.sleep(tick)
        now = monotonic()
        for subscription in subscriptions():
            websocket = subscription.websocket
            if websocket is None or websocket.closed:
                continue
            if websocket.ping_sent_at is not None:
                if now - websocket.ping_sent_at >= config.ping_timeout:
                    logger.info("wsredis: closing a WebSocket whose peer stopped answering pings")
                    websocket.abort()
                    continue
            elif now - websocket.last_received >= config.ping_interval:
                websocket.ping()
            if heartbeat is not None and now - websocket.last_sent >= config.heartbeat_interval:
                websocket.send_frame(heartbeat)
