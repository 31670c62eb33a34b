"""One upgraded WebSocket connection: frames in, frames out through a bounded queue, clean closes.

Sending never blocks the caller. A frame goes straight to the kernel when the socket can take it
(the common case, no greenlet switch); otherwise it waits in a per-socket queue that a short-lived
writer greenlet drains, joining every queued frame into one write. A reader that falls further
behind than ``send_queue_bytes`` is closed with 1013 instead of growing the process's memory.
"""

from __future__ import annotations

import logging
import socket
from time import monotonic
from typing import IO, Any

import gevent

from .exceptions import ProtocolError
from .frames import (
    CLOSE_INVALID_DATA,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TRY_AGAIN_LATER,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    encode_close,
    encode_frame,
    parse_close,
    read_frame,
)

__all__ = ["WebSocket"]

logger = logging.getLogger(__name__)
_PING_FRAME = encode_frame(OP_PING, b"")
_NO_STATUS = 1005


class WebSocket:
    """A server-side WebSocket over an already upgraded connection.

    ``rfile`` is the buffered reader the HTTP server parsed the handshake from (it may hold
    bytes the client sent right after it); ``sock`` is the gevent socket under it.
    """

    __slots__ = (
        "__weakref__",
        "_batch",
        "_close_sent",
        "_close_timeout",
        "_closer",
        "_max_size",
        "_pending",
        "_pending_bytes",
        "_queue_limit",
        "_rfile",
        "_sock",
        "_writer",
        "close_code",
        "closed",
        "last_received",
        "last_sent",
        "ping_sent_at",
    )

    def __init__(
        self,
        rfile: IO[bytes],
        sock: Any,
        *,
        max_message_size: int,
        send_queue_bytes: int,
        close_timeout: float,
    ) -> None:
        self._rfile = rfile
        self._sock = sock
        self._max_size = max_message_size
        self._queue_limit = send_queue_bytes
        self._close_timeout = close_timeout
        self._pending: list[bytes | memoryview] = []
        self._pending_bytes = 0
        self._batch: list[bytes] | None = None
        self._writer: gevent.Greenlet | None = None
        self._close_sent = False
        self._closer: gevent.Greenlet | None = None
        #: True once the connection is finished: nothing more is read or written.
        self.closed = False
        #: The close code the peer sent, or the one we closed with.
        self.close_code: int | None = None
        self.last_received = self.last_sent = monotonic()
        self.ping_sent_at: float | None = None

    # -- receiving -------------------------------------------------------------------------------

    def receive_raw(self) -> tuple[int, bytes] | None:
        """Next data message as ``(OP_TEXT or OP_BINARY, payload)``; None once the connection ends.

        Control frames are answered here. Text payloads are checked to be UTF-8 (else 1007).
        """
        message_opcode, fragments, size = 0, [], 0
        while not self.closed:
            try:
                fin, opcode, payload = read_frame(self._rfile, self._max_size - size)
            except ProtocolError as exc:
                self._fail(exc)
                continue
            except (EOFError, OSError, ValueError):
                # ValueError: the buffered reader was closed under us by an abort.
                self._finish()
                return None
            self.last_received = monotonic()
            self.ping_sent_at = None  # any traffic proves the peer is alive
            if opcode == OP_PING:
                self._write(encode_frame(OP_PONG, payload))
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                self._on_close_frame(payload)
                return None
            if self._close_sent:
                continue  # data after our close frame is discarded, as RFC 6455 allows
            if opcode == OP_CONTINUATION:
                if not message_opcode:
                    self._fail(ProtocolError(CLOSE_PROTOCOL_ERROR, "continuation frame without a message"))
                    continue
            elif message_opcode:
                self._fail(ProtocolError(CLOSE_PROTOCOL_ERROR, "new message before the last one ended"))
                continue
            else:
                message_opcode = opcode
            fragments.append(payload)
            size += len(payload)
            if not fin:
                continue
            data = fragments[0] if len(fragments) == 1 else b"".join(fragments)
            opcode, message_opcode, fragments, size = message_opcode, 0, [], 0
            if opcode == OP_TEXT:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    self._fail(ProtocolError(CLOSE_INVALID_DATA, "text message is not valid UTF-8"))
                    continue
            return opcode, data
        return None

    def receive(self) -> str | bytes | None:
        """Next message: ``str`` for text, ``bytes`` for binary, None once closed."""
        message = self.receive_raw()
        if message is None:
            return None
        opcode, data = message
        return data.decode("utf-8") if opcode == OP_TEXT else data

    def _on_close_frame(self, payload: bytes) -> None:
        try:
            code, _reason = parse_close(payload)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if self.close_code is None:
            self.close_code = code
        if not self._close_sent:
            # Echo the peer's code, as RFC 6455 5.5.1 suggests; 1005 means "none given".
            self._send_close(encode_close(code) if code != _NO_STATUS else encode_frame(OP_CLOSE, b""))
        self._finish()

    def _fail(self, exc: ProtocolError) -> None:
        logger.info("closing WebSocket with %d: %s", exc.code, exc.reason)
        if exc.code in (CLOSE_PROTOCOL_ERROR, CLOSE_MESSAGE_TOO_BIG):
            # The stream may be out of frame sync, so nothing more can be read from it.
            self.close(exc.code, exc.reason)
            self.flush(self._close_timeout)
            self._finish()
        else:
            self.close(exc.code, exc.reason)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """Send one message: text for ``str``, binary for ``bytes``."""
        if isinstance(message, str):
            self.send_frame(encode_frame(OP_TEXT, message.encode("utf-8")))
        else:
            self.send_frame(encode_frame(OP_BINARY, bytes(message)))

    def send_frame(self, frame: bytes) -> None:
        """Queue an encoded data frame without blocking; the same bytes may go to many sockets."""
        self.last_sent = monotonic()
        self._write(frame)

    def batch_frame(self, frame: bytes, touched: list[WebSocket]) -> None:
        """Collect a frame for :meth:`flush_batch`; the first one of a batch adds us to *touched*."""
        batch = self._batch
        if batch is None:
            self._batch = [frame]
            touched.append(self)
        else:
            batch.append(frame)

    def flush_batch(self, now: float) -> None:
        """Write the collected frames with one call (write coalescing)."""
        batch, self._batch = self._batch, None
        if batch:
            self.last_sent = now
            self._write(batch[0] if len(batch) == 1 else b"".join(batch))

    def _write(self, frame: bytes) -> None:
        # Control frames come here directly: they do not count as traffic for the heartbeat.
        if self._close_sent or self.closed:
            return
        if self._writer is None:
            try:
                sent = self._sock.send(frame, 0, 0.0)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.abort()
                return
            if sent == len(frame):
                return
            self._pending.append(memoryview(frame)[sent:])
            self._writer = gevent.spawn(self._drain)
            return
        if self._pending_bytes + len(frame) > self._queue_limit:
            logger.warning("closing WebSocket with 1013: its reader fell %d bytes behind", self._pending_bytes)
            # Keep the rest of a frame already partly sent (the memoryview at the head, which is
            # not counted in _pending_bytes): dropping it would cut the stream mid-frame and the
            # peer would read the close frame as payload.
            del self._pending[1 if self._pending and isinstance(self._pending[0], memoryview) else 0:]
            self._pending_bytes = 0
            self.close(CLOSE_TRY_AGAIN_LATER, "send queue overflow")
            return
        self._pending.append(frame)
        self._pending_bytes += len(frame)

    def _drain(self) -> None:
        try:
            while self._pending:
                data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
                self._pending.clear()
                self._pending_bytes = 0
                self._sock.sendall(data)
        except OSError:
            self.abort()
        finally:
            self._writer = None

    def ping(self) -> None:
        """Send a protocol ping; the peer's pong (or any frame) clears ``ping_sent_at``."""
        self.ping_sent_at = monotonic()
        self._write(_PING_FRAME)

    def flush(self, timeout: float) -> None:
        """Wait up to *timeout* seconds for queued frames to reach the kernel."""
        writer = self._writer
        if writer is not None:
            writer.join(timeout)

    # -- closing ---------------------------------------------------------------------------------

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake; the connection is dropped if the peer does not answer in time."""
        if self._close_sent or self.closed:
            return
        if self.close_code is None:
            self.close_code = code
        self._send_close(encode_close(code, reason))
        self._closer = gevent.spawn_later(self._close_timeout, self.abort)

    def _send_close(self, frame: bytes) -> None:
        self._write(frame)
        self._close_sent = True

    def abort(self) -> None:
        """Drop the connection now; a greenlet blocked reading it wakes up and sees the end."""
        if self.closed:
            return
        self._finish()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def _finish(self) -> None:
        self.closed = True
        closer, self._closer = self._closer, None
        if closer is not None and closer is not gevent.getcurrent():
            closer.kill(block=False)
