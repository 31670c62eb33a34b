"""A raw-socket WebSocket client for tests that need what a polite client library will not do.

websocket-client answers pings, validates what it sends and hides the HTTP status of a refused
handshake behind an exception. This client does none of that: it sends exactly the bytes a test
asks for (a handshake with any headers, masked frames with any opcode or payload) and reads
exactly what the server sends back, every read bounded by a timeout.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from typing import NamedTuple

from ..client_frames import masked_frame

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
TIMEOUT = 5.0


class HTTPResponse(NamedTuple):
    status: int
    status_line: str
    headers: dict[str, str]
    body: bytes


class ServerFrame(NamedTuple):
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame (None when it carries none)."""
        assert self.opcode == OP_CLOSE, f"not a close frame: opcode {self.opcode:#x}"
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class RawClient:
    """A TCP connection to a test server that speaks WebSocket only as far as the test says."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buffer = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- HTTP ------------------------------------------------------------------------------------

    def handshake(self, path: str, headers: dict[str, str | None] | None = None) -> HTTPResponse:
        """Send an opening handshake and read the response head (and body, unless it is a 101).

        *headers* add to or replace the valid defaults; a value of None leaves that header out.
        """
        sent: dict[str, str | None] = {
            "Host": f"127.0.0.1:{self.sock.getpeername()[1]}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode("ascii"),
            "Sec-WebSocket-Version": "13",
        }
        sent.update(headers or {})
        lines = [f"GET {path} HTTP/1.1"] + [f"{name}: {value}" for name, value in sent.items() if value is not None]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self.read_response()

    def request(self, head: bytes, *, head_method: bool = False) -> HTTPResponse:
        """Send *head* verbatim (request line, headers, blank line: anything) and read the answer.

        *head_method*: the request was a HEAD, so the answer has no body whatever its headers say.
        """
        self.sock.sendall(head)
        return self.read_response(body=not head_method)

    def read_response(self, *, body: bool = True) -> HTTPResponse:
        """Read a response head, and its body (``Content-Length`` bytes) unless it is a 101."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parsed = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            parsed[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        content = b""
        if status != 101 and body:
            length = int(parsed.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            content, self.buffer = self.buffer[:length], self.buffer[length:]
        return HTTPResponse(status, status_line, parsed, content)

    # -- frames ----------------------------------------------------------------------------------

    def send_frame(self, opcode: int, payload: bytes, **kwargs: object) -> None:
        self.sock.sendall(masked_frame(opcode, payload, **kwargs))  # type: ignore[arg-type]

    def read_frame(self) -> ServerFrame:
        """The next server frame; raises ``EOFError`` if the server closed the connection first."""
        first = self._read(2)
        fin, opcode, length = bool(first[0] & 0x80), first[0] & 0x0F, first[1] & 0x7F
        assert not first[1] & 0x80, "server frames must not be masked"
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return ServerFrame(fin, opcode, self._read(length))

    def read_until_close(self) -> ServerFrame:
        """Skip data and ping frames (unanswered) until the close frame."""
        while True:
            frame = self.read_frame()
            if frame.opcode == OP_CLOSE:
                return frame

    def wait_eof(self) -> bytes:
        """Read until the server drops the connection; return what came meanwhile."""
        data = self.buffer
        self.buffer = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buffer += chunk


def handshake_status(port: int, path: str, headers: dict[str, str | None] | None = None) -> HTTPResponse:
    """Open a WebSocket handshake on *path* and return the server's HTTP answer."""
    with RawClient(port) as client:
        return client.handshake(path, headers)
