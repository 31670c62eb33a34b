"""The yardstick of ``fanout.py``: a minimal gevent WebSocket fan-out server, as small as it gets.

    python benchmarks/baseline_server.py redis://127.0.0.1:PORT/0 broadcast:bench

It does only what a fan-out must: the opening handshake by hand, one Redis subscription for the
whole process, each frame encoded once and written with ``sendall`` to every socket in turn. No
routing, authorisation, queues, heartbeats or closing handshake. It prints ``PORT <n>`` once it
listens. Our server is measured as a ratio to this one, in the same run, on the same core.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import base64  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
sockets: set = set()


def handle(sock, _address) -> None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            return
        head += chunk
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    sockets.add(sock)
    try:
        while sock.recv(4096):  # client frames are ignored; end of stream ends the socket
            pass
    except OSError:
        pass
    finally:
        sockets.discard(sock)


def encode(payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 0x10000:
        return bytes((0x81, 126)) + length.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + length.to_bytes(8, "big") + payload


def fan_out(url: str, channel: str) -> None:
    pubsub = redis.Redis.from_url(url, protocol=2).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    for message in pubsub.listen():
        frame = encode(message["data"])
        for sock in list(sockets):  # sendall may switch greenlets, and the set may change meanwhile
            try:
                sock.sendall(frame)
            except OSError:
                sockets.discard(sock)


if __name__ == "__main__":
    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    gevent.spawn(fan_out, sys.argv[1], sys.argv[2])
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()
