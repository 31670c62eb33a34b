"""S WebSocket client sockets on one ``select.epoll``: opened, handshaken, and counted in bytes.

The base of the load generator (``loadgen.py``). Per-socket state lives in lists indexed by file
descriptor, the cheapest lookup CPython has, so one thread can serve 10,000 sockets. Received
bytes are only counted, never kept: the phases turn counts into deliveries.
"""

from __future__ import annotations

import base64
import errno
import os
import resource
import select
import socket
import time

_READ_SIZE = 256 * 1024
_EPOLL_IN, _EPOLL_OUT = select.EPOLLIN, select.EPOLLOUT
_CONNECTING, _HANDSHAKE, OPEN, _DEAD = 0, 1, 2, 3


class ClientSockets:
    """Client sockets of one event loop; subclasses add other descriptors through :meth:`on_other`."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.buffer = bytearray(_READ_SIZE)
        self.socks: dict[int, socket.socket] = {}
        size = resource.getrlimit(resource.RLIMIT_NOFILE)[0] + 16
        self.state = [_DEAD] * size
        self.total = [0] * size  # frame bytes received since the handshake
        self.base = [0] * size  # ``total`` at the start of the current phase
        self.heads: dict[int, bytes] = {}  # handshake responses still being read
        self.open_count = 0
        self.closed_by_server = 0

    def on_other(self, fd: int) -> None:
        """A descriptor registered by a subclass is ready (the publisher's Redis connection)."""
        raise NotImplementedError(fd)

    # -- connecting ------------------------------------------------------------------------------
    def connect(self, host: str, port: int, path: str, sockets: int, window: int, timeout: float) -> dict:
        """Open *sockets* WebSockets, at most *window* handshakes in flight (under the listen backlog)."""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        started = time.monotonic()
        deadline = started + timeout
        to_start, in_flight, failed = sockets, 0, 0
        errors: dict[str, int] = {}
        opened_before = self.open_count
        while (to_start or in_flight) and time.monotonic() < deadline:
            while to_start and in_flight < window:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                code = sock.connect_ex((host, port))
                if code not in (0, errno.EINPROGRESS):
                    sock.close()
                    failed += 1
                    name = errno.errorcode.get(code, str(code))
                    errors[name] = errors.get(name, 0) + 1
                    to_start -= 1
                    continue
                fd = sock.fileno()
                self.socks[fd] = sock
                self.state[fd] = _CONNECTING
                self.heads[fd] = b""
                self.epoll.register(fd, _EPOLL_OUT)
                to_start -= 1
                in_flight += 1
            for fd, _events in self.epoll.poll(0.5):
                if fd not in self.socks:
                    self.on_other(fd)
                    continue
                state = self.state[fd]
                sock = self.socks[fd]
                if state == _CONNECTING:
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        name = errno.errorcode.get(error, str(error))
                        errors[name] = errors.get(name, 0) + 1
                        self.drop(fd)
                        failed += 1
                        in_flight -= 1
                        continue
                    try:
                        sock.send(request)  # a few hundred bytes into an empty buffer: never partial
                    except OSError as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                        self.drop(fd)
                        failed += 1
                        in_flight -= 1
                        continue
                    self.state[fd] = _HANDSHAKE
                    self.epoll.modify(fd, _EPOLL_IN)
                elif state == _HANDSHAKE:
                    done = self.read_handshake(fd, sock)
                    if done is not None:
                        in_flight -= 1
                        if not done:
                            failed += 1
                            errors["refused"] = errors.get("refused", 0) + 1
                else:
                    self.read_open(fd, sock)
        for fd in [fd for fd in self.socks if self.state[fd] in (_CONNECTING, _HANDSHAKE)]:
            self.drop(fd)
            failed += 1
            errors["timeout"] = errors.get("timeout", 0) + 1
        return {
            "connected": self.open_count - opened_before,
            "failed": failed,
            "errors": errors,
            "seconds": time.monotonic() - started,
        }

    def read_handshake(self, fd: int, sock: socket.socket) -> bool | None:
        try:
            chunk = sock.recv(4096)
        except BlockingIOError:
            return None
        except OSError:
            chunk = b""
        if not chunk:
            self.drop(fd)
            return False
        head = self.heads[fd] + chunk
        end = head.find(b"\r\n\r\n")
        if end < 0:
            self.heads[fd] = head
            return None
        del self.heads[fd]
        if not head.startswith(b"HTTP/1.1 101"):
            self.drop(fd)
            return False
        self.state[fd] = OPEN
        self.total[fd] = self.base[fd] = len(head) - end - 4  # frames sent right after the 101
        self.open_count += 1
        return True

    def read_open(self, fd: int, sock: socket.socket) -> int:
        try:
            n = sock.recv_into(self.buffer)
        except BlockingIOError:
            return 0
        except OSError:
            n = 0
        if not n:
            self.closed_by_server += 1
            self.drop(fd)
            return 0
        self.total[fd] += n
        return n

    def drop(self, fd: int) -> None:
        if self.state[fd] == OPEN:
            self.open_count -= 1
        self.state[fd] = _DEAD
        self.heads.pop(fd, None)
        sock = self.socks.pop(fd)
        self.epoll.unregister(fd)
        sock.close()

    def open_fds(self) -> list[int]:
        return [fd for fd in self.socks if self.state[fd] == OPEN]

    # -- publishing ------------------------------------------------------------------------------
