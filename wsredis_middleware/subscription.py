"""One socket's place in the hub: the channels it listens to and how messages reach it.

Two filters sit between the hub and the socket. Without ``echo`` a socket does not get back what
it published itself, matched by channel and payload, so identical messages published by others
still arrive. And while persisted messages are being replayed, live ones are held back, so a
socket sees the persisted message first and never the same message twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ["Subscription"]

_MAX_OWN_PENDING = 64  # per channel: publications not yet seen coming back from Redis


class Subscription:
    """A WebSocket attached to the hub."""

    __slots__ = ("__weakref__", "_held", "_own", "channels", "echo", "websocket")

    def __init__(self, channels: tuple[bytes, ...], *, echo: bool) -> None:
        #: None until the upgrade; messages are held until then (see :meth:`release`).
        self.websocket: WebSocket | None = None
        self.channels = channels
        self.echo = echo
        self._own: dict[bytes, deque[bytes]] | None = None
        self._held: list[tuple[bytes, bytes]] | None = []

    def deliver_run(self, channel: bytes, payloads: list[bytes], frames: list[bytes], joined: bytes,
                    touched: list[WebSocket]) -> None:
        """Hand a run of messages of one channel to the socket (the hub's hot path: never yields).

        The common case takes the run as one chunk, shared by every socket; a socket with its
        own publications to recognise, or still holding messages, takes them one by one.
        """
        own = self._own
        if self._held is None and not (own and own.get(channel)):
            self.websocket.batch_frame(joined, touched)  # type: ignore[union-attr]  # set when _held is cleared
            return
        for payload, frame in zip(payloads, frames, strict=True):
            self.deliver(channel, payload, frame, touched)

    def deliver(self, channel: bytes, payload: bytes, frame: bytes, touched: list[WebSocket]) -> None:
        """Add one message to the socket's batch (called by the hub; must never block or yield).

        The hub writes the batch when it has handled every message Redis sent so far; the
        socket is added to *touched* on its first frame of the batch.
        """
        own = self._own
        if own is not None:
            pending = own.get(channel)
            if pending:
                try:
                    pending.remove(payload)
                except ValueError:
                    pass
                else:
                    return
        held = self._held
        if held is not None:
            held.append((channel, frame))
            return
        self.websocket.batch_frame(frame, touched)  # type: ignore[union-attr]  # set before _held is cleared

    def expect_own(self, channels: Iterable[str], payload: bytes) -> None:
        """Note a publication about to be made by this socket, so that it is not echoed back."""
        if self.echo:
            return
        own = self._own
        if own is None:
            own = self._own = {}
        for channel in channels:
            name = channel.encode("utf-8")
            if name in self.channels:
                own.setdefault(name, deque(maxlen=_MAX_OWN_PENDING)).append(payload)

    @property
    def held_channels(self) -> frozenset[bytes]:
        """Channels that delivered a live message while persisted ones were being replayed."""
        return frozenset(channel for channel, _ in self._held or ())

    def release(self, websocket: WebSocket) -> None:
        """Send the live messages held back until now to *websocket*, in order, and stop holding."""
        self.websocket = websocket
        held, self._held = self._held, None
        for _channel, frame in held or ():
            websocket.send_frame(frame)
