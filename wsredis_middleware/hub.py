"""The hub: one Redis pub/sub connection per process, fanned out to every local socket.

Sockets attach with the channel names they want. The first local subscriber of a channel makes
the hub SUBSCRIBE, the last one leaving makes it UNSUBSCRIBE. Each Redis message is encoded into
a WebSocket frame once and the same bytes are handed to every subscribed socket. The hub is
created lazily in the process that uses it, so a gunicorn master never shares it with workers;
it reconnects with backoff after Redis goes away and subscribes to every channel again.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
from collections.abc import Callable, Iterable
from time import monotonic
from typing import TYPE_CHECKING

import gevent
import redis
from gevent.event import Event
from gevent.lock import Semaphore

from .connection import client_for
from .exceptions import WSRedisError
from .frames import encode_message
from .keepalive import sweep_forever
from .lookup import PersistedLookup
from .subscription import Subscription

if TYPE_CHECKING:
    from .config import Config
    from .websocket import WebSocket

__all__ = ["Hub", "HubUnavailable"]

logger = logging.getLogger(__name__)

_HEALTH_INTERVAL = 5.0  # PING the pub/sub connection after this long without traffic
_HEALTH_TIMEOUT = 5.0  # and give up on it if the PING gets no answer in time
_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 2.0  # a failover should not wait on a long back-off
_SUBSCRIBE_BATCH = 500  # channels per SUBSCRIBE command when resubscribing
_BATCH_MAX = 256  # replies handled before the sockets are written, so a flood cannot starve them
_REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def _connect(conn: redis.connection.ConnectionInterface) -> Exception | None:
    """Connect *conn*; the error is returned, not raised, so gevent does not log it as a crash."""
    try:
        conn.connect()
    except Exception as exc:
        return exc
    return None


class HubUnavailable(WSRedisError):
    """Redis did not confirm a subscription in time (it is down or overloaded)."""


class Hub:
    """Owns the process's pub/sub connection and the map from channel to local subscriptions."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pid: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._members: dict[bytes, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._pending: dict[bytes, int] = {}  # SUBSCRIBE commands in flight per channel
        self._barriers: dict[bytes, Event] = {}
        self._tokens = itertools.count()
        self._changed = Event()
        self._conn: redis.connection.ConnectionInterface | None = None
        self._write_lock = Semaphore()
        self._greenlets: list[gevent.Greenlet] = []
        self._lookup: PersistedLookup | None = None

    # -- public ----------------------------------------------------------------------------------

    @property
    def subscriptions(self) -> frozenset[Subscription]:
        """Every socket attached in this process."""
        return frozenset(self._subscriptions)

    def attach(self, channels: Iterable[str], *, echo: bool) -> Subscription:
        """Subscribe to *channels* and return once Redis has confirmed every one.

        Called before the upgrade, so that nothing published after the client sees the socket
        open can be missed. Messages are held until :meth:`Subscription.release` hands them to
        the WebSocket, after its persisted messages. Raises :class:`HubUnavailable` after
        ``subscribe_timeout``.
        """
        self._ensure_running()
        names = tuple(dict.fromkeys(c.encode("utf-8") for c in channels))
        subscription = Subscription(names, echo=echo)
        self._subscriptions.add(subscription)
        new = [name for name in names if name not in self._members]
        for name in names:
            self._members.setdefault(name, set()).add(subscription)
        if new and self._conn is not None:
            self._send_subscribe(self._conn, new)
        try:
            self._wait_until(lambda: self._is_confirmed(names), self._config.subscribe_timeout)
        except HubUnavailable:
            self.detach(subscription)
            raise
        return subscription

    def detach(self, subscription: Subscription) -> None:
        """Forget *subscription*; channels nobody here listens to any more are unsubscribed."""
        self._subscriptions.discard(subscription)
        gone = []
        for name in subscription.channels:
            members = self._members.get(name)
            if members is None:
                continue
            members.discard(subscription)
            if not members:
                del self._members[name]
                gone.append(name)
        if gone and self._conn is not None:
            self._send(self._conn, "UNSUBSCRIBE", *gone)

    def fetch_persisted(self, names: list[str]) -> list[bytes | None]:
        """The persisted messages of *names*, looked up together with other sockets' (one MGET)."""
        self._ensure_running()
        if self._lookup is None:
            config = self._config
            self._lookup = PersistedLookup(client_for(config.connection, max_connections=config.max_connections))
        return self._lookup.mget(names, self._config.subscribe_timeout)

    def barrier(self, timeout: float) -> None:
        """Return once every message Redis published before this call has been dispatched."""
        conn = self._conn
        if conn is None:
            return
        token = str(next(self._tokens)).encode()
        event = self._barriers[token] = Event()
        try:
            self._send(conn, "PING", token)
            event.wait(timeout)
        finally:
            self._barriers.pop(token, None)

    def close_all(self, code: int, reason: str = "") -> None:
        """Start closing every socket of this process (1001 on shutdown, so clients reconnect elsewhere)."""
        for subscription in tuple(self._subscriptions):
            if subscription.websocket is not None:
                subscription.websocket.close(code, reason)

    def stop(self) -> None:
        """Stop the hub's greenlets and close its connection (graceful shutdown, tests)."""
        gevent.killall(self._greenlets)
        self._greenlets = []
        self._drop_connection()
        self._pid = None

    # -- state -----------------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        if self._pid is not None:  # forked: nothing of the parent's hub is ours
            self._reset()
        self._pid = pid
        sweeper = gevent.spawn(sweep_forever, self._config, lambda: tuple(self._subscriptions))
        self._greenlets = [gevent.spawn(self._run), sweeper]

    def _is_confirmed(self, names: Iterable[bytes]) -> bool:
        return self._conn is not None and not any(self._pending.get(name) for name in names)

    def _notify(self) -> None:
        event, self._changed = self._changed, Event()
        event.set()

    def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = monotonic() + timeout
        while not predicate():
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise HubUnavailable(
                    f"Redis at {self._config.connection.description} did not confirm a subscription "
                    f"within {timeout:g} s"
                )
            self._changed.wait(remaining)  # no greenlet switch since predicate(): no lost wake-up

    # -- the connection --------------------------------------------------------------------------

    def _send(self, conn: redis.connection.ConnectionInterface, *args: str | bytes) -> None:
        with self._write_lock:
            try:
                conn.send_command(*args)
            except _REDIS_ERRORS as exc:
                logger.warning("wsredis hub: writing to Redis failed: %s", exc)
                self._drop_connection()

    def _send_subscribe(self, conn: redis.connection.ConnectionInterface, names: list[bytes]) -> None:
        for name in names:
            self._pending[name] = self._pending.get(name, 0) + 1
        for start in range(0, len(names), _SUBSCRIBE_BATCH):
            self._send(conn, "SUBSCRIBE", *names[start:start + _SUBSCRIBE_BATCH])

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._pending.clear()
        if conn is not None:
            conn.disconnect()
        self._notify()

    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            try:
                # RESP2: under RESP3 (redis-py 8's default) pub/sub messages arrive as push
                # frames that read_response() hands to a callback instead of returning.
                conn = self._config.connection.make_pool(protocol=2).make_connection()
                attempt = gevent.spawn(_connect, conn)
                try:
                    error = attempt.get()
                except BaseException:
                    # stop() may kill us mid-connect, where redis-py cannot close its half-made
                    # socket: let the attempt finish on its own, then close what it opened.
                    attempt.link(lambda _attempt, made=conn: made.disconnect())
                    raise
                if error is not None:
                    raise error
                self._conn = conn
                if self._members:
                    self._send_subscribe(conn, list(self._members))
                self._notify()
                logger.info("wsredis hub: connected to %s", self._config.connection.description)
                backoff = _BACKOFF_FIRST
                self._read(conn)
            except _REDIS_ERRORS as exc:
                logger.warning(
                    "wsredis hub: Redis at %s unavailable (%s); retrying in %.1f s",
                    self._config.connection.description, exc, backoff,
                )
            except Exception:  # a bug must not leave the process deaf to Redis for good
                logger.exception("wsredis hub: unexpected error; reconnecting in %.1f s", backoff)
            self._drop_connection()
            gevent.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def _read(self, conn: redis.connection.ConnectionInterface) -> None:
        while self._conn is conn:
            if not conn.can_read(timeout=_HEALTH_INTERVAL):
                self._send(conn, "PING", b"health")
                if not conn.can_read(timeout=_HEALTH_TIMEOUT):
                    raise redis.TimeoutError(f"no answer to PING in {_HEALTH_TIMEOUT:g} s")
            self._read_batch(conn)

    def _read_batch(self, conn: redis.connection.ConnectionInterface) -> None:
        """Handle every reply Redis has already sent, then write each touched socket once.

        Under a burst this turns N messages for a socket into one write (one system call)
        instead of N; a lone message is written as soon as it is read. Consecutive messages of
        one channel form a run, handed to each subscriber in one call as one joined chunk.
        """
        touched: list[WebSocket] = []
        run_channel, run = b"", list[bytes]()  # the run of messages of one channel, in Redis's order
        try:
            for _ in range(_BATCH_MAX):
                reply = conn.read_response()
                if reply[0] == b"message" and (reply[1] == run_channel or not run):
                    run_channel = reply[1]
                    run.append(reply[2])
                else:
                    # Anything else ends the run first: order, and barriers, rely on it.
                    self._dispatch(run_channel, run, touched)
                    run_channel, run = b"", list[bytes]()
                    if reply[0] == b"message":
                        run_channel, run = reply[1], [reply[2]]
                    else:
                        self._handle(reply)
                if not conn.can_read(timeout=0):
                    break
        finally:
            self._dispatch(run_channel, run, touched)
            now = monotonic()
            for websocket in touched:
                websocket.flush_batch(now)

    def _handle(self, reply: list[bytes]) -> None:
        kind = reply[0]
        if kind == b"subscribe":
            name = reply[1]
            count = self._pending.get(name, 0) - 1
            if count > 0:
                self._pending[name] = count
            else:
                self._pending.pop(name, None)
                self._notify()
        elif kind == b"pong":
            event = self._barriers.get(reply[1])
            if event is not None:
                event.set()

    def _dispatch(self, channel: bytes, run: list[bytes], touched: list[WebSocket]) -> None:
        members = self._members.get(channel) if run else None
        if not members:
            return
        payloads = [payload for payload in run if payload]  # an empty message is never sent
        if not payloads:
            return
        # Encoded once per message and joined once per run, whatever the number of sockets.
        frames = [encode_message(payload) for payload in payloads]
        joined = frames[0] if len(frames) == 1 else b"".join(frames)
        # deliver_run() never yields to another greenlet, so the set cannot change under us.
        for subscription in members:
            subscription.deliver_run(channel, payloads, frames, joined, touched)
