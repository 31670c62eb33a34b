"""The per-socket side of a WebSocket: which channels it listens and publishes to.

Replace it with ``WS4REDIS_SUBSCRIBER`` to add channels of your own: override
:meth:`RedisSubscriber.set_pubsub_channels` and add Redis names to ``self.subscribed`` (listen)
or ``self.published`` (publish). Overrides run in the server's event loop: anything that
blocks must be gevent-cooperative.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .channels import channel_name, identity_names
from .frames import encode_message
from .redis_store import RedisMessage, RedisStore

if TYPE_CHECKING:
    from .connection import ConnectionArg
    from .hub import Hub
    from .subscription import Subscription
    from .websocket import WebSocket

__all__ = ["RedisSubscriber"]

logger = logging.getLogger(__name__)


class RedisSubscriber(RedisStore):
    """Subscriptions and publications of one WebSocket, set up from its request."""

    #: The query keys a socket may subscribe with.
    subscription_channels: tuple[str, ...] = (
        "subscribe-session", "subscribe-group", "subscribe-user", "subscribe-broadcast",
    )
    #: The query keys a socket may publish with (only if the allowed-channels setting permits).
    publish_channels: tuple[str, ...] = ("publish-session", "publish-group", "publish-user", "publish-broadcast")

    def __init__(self, connection: ConnectionArg = None) -> None:
        super().__init__(connection)
        #: Set by the middleware before :meth:`subscribe` is called.
        self.hub: Hub | None = None
        self.subscription: Subscription | None = None
        self._subscribed: set[str] = set()

    @property
    def subscribed(self) -> set[str]:
        """Redis channels this socket listens to (add to it in an override)."""
        return self._subscribed

    @property
    def published(self) -> set[str]:
        """Redis channels this socket's messages are published to."""
        return self._publishers

    def set_pubsub_channels(self, request: Any, channels: list[str]) -> None:
        """Turn the allowed query keys (``subscribe-user``, ...) into Redis channel names.

        ``request.facility`` and ``request.identity`` are set by the middleware.
        """
        prefix, facility, identity = self._config.prefix, request.facility, request.identity
        for key in channels:
            _action, _, audience = key.partition("-")
            if audience == "broadcast":
                names = [channel_name(prefix, "broadcast", facility)]
            else:
                names = [channel_name(prefix, audience, facility, n) for n in identity_names(audience, identity)]
            if key in self.subscription_channels:
                self._subscribed.update(names)
            elif key in self.publish_channels:
                self._publishers.update(names)

    def subscribe(self, *, echo: bool) -> None:
        """Subscribe on the hub (before the upgrade); messages wait for :meth:`start_live_delivery`."""
        assert self.hub is not None, "the middleware sets RedisSubscriber.hub before subscribing"
        self.subscription = self.hub.attach(sorted(self._subscribed), echo=echo)

    def send_persisted_messages(self, websocket: WebSocket) -> None:
        """Send the persisted message of each subscribed channel, right after subscribing.

        A channel that already delivered a live message during the replay is skipped: that
        message is the same one or newer, and follows in order.
        """
        names = sorted(self._subscribed)
        if not names:
            return
        values = self.hub.fetch_persisted(names) if self.hub is not None else self._connection.mget(names)
        found = [(n, v) for n, v in zip(names, values, strict=True) if v]
        if not found:
            return
        held: frozenset[bytes] = frozenset()
        if self.hub is not None and self.subscription is not None:
            self.hub.barrier(self._config.subscribe_timeout)
            held = self.subscription.held_channels
        for name, value in found:
            if name.encode("utf-8") not in held:
                websocket.send_frame(encode_message(RedisMessage(value)))

    def start_live_delivery(self, websocket: WebSocket) -> None:
        """Deliver the messages held back so far to *websocket*, then every new one as it comes."""
        if self.subscription is not None:
            self.subscription.release(websocket)

    def publish_message(self, message: Any, expire: int | None = None) -> int:
        """Publish a message received from this socket (not echoed back to it unless ``echo``)."""
        data = message if isinstance(message, bytes) else RedisMessage(message)
        if data and self.subscription is not None:
            self.subscription.expect_own(self._publishers, data)
        return super().publish_message(data, expire)

    def release(self) -> None:
        """Detach from the hub: channels nobody else here listens to are unsubscribed."""
        if self.hub is not None and self.subscription is not None:
            self.hub.detach(self.subscription)
        self.subscription = None
