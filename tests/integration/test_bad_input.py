"""The bad-input corpus: hostile or broken handshakes and frames, each with its documented answer.

Every case states what the server answers (an HTTP status before the upgrade, a close code, or
"ignored, the socket stays usable") and is checked against a live server. One healthy
subscriber stays connected to the same server for the whole module; after every case a message
is published and the healthy socket must receive it, so no bad input may take down anything
but its own connection. ``docs/security.md`` lists the same answers for operators.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import gevent
import pytest
from gevent.queue import Empty, Queue

from wsredis_middleware import Identity, RedisPublisher, WebSocketRedisMiddleware

from ..conftest import LiveServer, hello_app
from .rawws import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawClient,
    handshake_status,
    masked_frame,
)
from .support import pubsub_channels, wait_until

WAIT = 5.0
MAX_SIZE = 1024  # a small message limit, so oversized cases stay cheap
ALLOWED_ORIGIN = "https://allowed.example"
HEALTHY_FACILITY = "corpus-healthy"
SOCKET_PATH = "/ws/corpus?subscribe-broadcast&publish-broadcast&echo"


def quoted_resolver(request: Any) -> Identity:
    """Identity from percent-encoded headers, so a test can hand the server any name at all."""
    groups = request.headers.get("X-Groups")
    return Identity(
        user=unquote(request.headers["X-User"]) if "X-User" in request.headers else None,
        groups=[unquote(g) for g in groups.split(",")] if groups else [],
        session=unquote(request.headers["X-Session"]) if "X-Session" in request.headers else None,
    )


class Healthy:
    """A well-behaved subscriber that reads all the time (so it answers the server's pings)."""

    def __init__(self, server: LiveServer, redis_url: str) -> None:
        self.ws = server.connect(f"/ws/{HEALTHY_FACILITY}?subscribe-broadcast")
        self.messages: Queue[str] = Queue()
        self.reader = gevent.spawn(self._read)
        self.publisher = RedisPublisher(facility=HEALTHY_FACILITY, broadcast=True, connection=redis_url)

    def _read(self) -> None:
        # Every case publishes to it within seconds; a minute of silence ends the reader, and the
        # next check then fails instead of the suite hanging.
        self.ws.settimeout(60)
        while True:
            self.messages.put(self.ws.recv())

    def assert_unaffected(self, label: str) -> None:
        """Publish a message and require the healthy socket to receive exactly it, in time."""
        text = f"still here after {label}"
        assert self.publisher.publish_message(text, expire=0) == 1  # the hub is still subscribed
        try:
            assert self.messages.get(timeout=WAIT) == text
        except Empty:
            raise AssertionError(f"the healthy socket got nothing after {label}") from None

    def close(self) -> None:
        self.reader.kill(block=True, timeout=WAIT)
        self.ws.close(timeout=1)


@pytest.fixture(scope="module")
def corpus_server(redis_server: Any) -> Iterator[LiveServer]:
    middleware = WebSocketRedisMiddleware(
        hello_app,
        connection=redis_server.url,
        resolver=quoted_resolver,
        allowed_channels=["subscribe-broadcast", "subscribe-user", "subscribe-group", "subscribe-session",
                          "publish-broadcast"],
        allowed_origins=[ALLOWED_ORIGIN],
        max_message_size=MAX_SIZE,
        max_publish_rate=0,  # the corpus publishes probes quickly; the rate limit has its own tests
        close_timeout=2.0,
        expire=0,  # no replay of the last message: each case's socket starts from silence
    )
    server = LiveServer(middleware)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def healthy(corpus_server: LiveServer, redis_server: Any) -> Iterator[Healthy]:
    watcher = Healthy(corpus_server, redis_server.url)
    wait_until(lambda: f"broadcast:{HEALTHY_FACILITY}" in pubsub_channels(redis_server), what="healthy subscriber")
    yield watcher
    watcher.close()


def _key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def _request(method: str, target: str, version: str = "HTTP/1.1", extra: str = "", **overrides: str | None) -> bytes:
    """A request head with valid WebSocket headers unless *overrides* change or drop them."""
    headers: dict[str, str | None] = {
        "Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": _key(), "Sec-WebSocket-Version": "13",
    }
    headers.update({name.replace("_", "-"): value for name, value in overrides.items()})
    lines = [f"{method} {target} {version}"] + [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin-1")


# -- handshakes: an HTTP status before any upgrade ----------------------------------------------------

HANDSHAKES = [
    pytest.param({"Sec-WebSocket-Key": "c2hvcnQ="}, 400, id="key-too-short"),
    pytest.param({"Sec-WebSocket-Key": "not base64 at all!!"}, 400, id="key-not-base64"),
    pytest.param({"Sec-WebSocket-Key": base64.b64encode(b"x" * 17).decode()}, 400, id="key-17-bytes"),
    pytest.param({"Sec-WebSocket-Key": ""}, 400, id="key-empty"),
    pytest.param({"Sec-WebSocket-Key": None}, 400, id="key-missing"),
    pytest.param({"Sec-WebSocket-Version": "8"}, 426, id="version-8"),
    pytest.param({"Sec-WebSocket-Version": "14"}, 426, id="version-14"),
    pytest.param({"Sec-WebSocket-Version": None}, 426, id="version-missing"),
    pytest.param({"Sec-WebSocket-Version": "13, 8"}, 426, id="version-list"),
    pytest.param({"Upgrade": None}, 400, id="upgrade-missing"),
    pytest.param({"Upgrade": "h2c"}, 400, id="upgrade-not-websocket"),
    pytest.param({"Connection": None}, 400, id="connection-missing"),
    pytest.param({"Connection": "keep-alive"}, 400, id="connection-without-upgrade"),
    pytest.param({"X-Padding": "a" * 60_000}, 101, id="long-header-under-the-line-limit"),
]


@pytest.mark.parametrize(("headers", "status"), HANDSHAKES)
def test_malformed_handshake(corpus_server, healthy, request, headers, status):
    answer = handshake_status(corpus_server.port, "/ws/corpus?subscribe-broadcast", headers)
    assert answer.status == status, answer
    if status == 426:
        assert answer.headers.get("sec-websocket-version") == "13"  # tells the client what we speak
    healthy.assert_unaffected(request.node.callspec.id)


RAW_REQUESTS = [
    pytest.param(_request("GET", "/ws/corpus", "HTTP/1.0"), 400, id="http-1.0"),
    pytest.param(_request("POST", "/ws/corpus", Content_Length="0"), 400, id="method-post"),
    pytest.param(_request("PUT", "/ws/corpus", Content_Length="0"), 400, id="method-put"),
    pytest.param(_request("DELETE", "/ws/corpus"), 400, id="method-delete"),
    pytest.param(_request("GET", "/ws/corpus?" + "a" * 4097), 414, id="query-over-4096"),
    pytest.param(_request("GET", "/ws/corpus?subscribe-broadcast&" + "a" * (4096 - 20)), 101, id="query-at-4096"),
    pytest.param(_request("GET", "/ws/corpus?" + "a" * 9000), 414, id="request-line-over-8k"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32) + b"\r\n\r\n", 400,
                 id="tls-hello-on-plain-port"),
    pytest.param(b"GARBAGE\r\n\r\n", 400, id="garbage-request-line"),
    pytest.param(b"GET /ws/corpus HTTP/1.1 extra\r\n\r\n", 400, id="request-line-four-words"),
    pytest.param(b"GET /ws/corpus HTTP/9.9\r\nHost: x\r\n\r\n", 400, id="unknown-http-version"),
    pytest.param(_request("GET", "/ws/corpus", extra="X-Big: " + "b" * 70_000 + "\r\n"), 400,
                 id="header-line-over-64k"),
    pytest.param(_request("GET", "/ws/corpus", extra="".join(f"X-H{n}: v\r\n" for n in range(120))), 400,
                 id="over-100-headers"),
    pytest.param(_request("GET", "/ws/corpus", extra=f"Sec-WebSocket-Key: {_key()}\r\n"), 400, id="key-twice"),
    pytest.param(_request("GET", "/ws/corpus", Host="example.test", Origin="http://example.test"), 101,
                 id="origin-matching-host"),
    pytest.param(_request("GET", "/ws/corpus", Host="example.test", Origin="http://evil.example",
                          extra="Origin: http://example.test\r\n"), 403, id="origin-twice-evil-first"),
    pytest.param(_request("GET", "/ws/corpus", Host="example.test", Origin="http://example.test",
                          extra="Origin: http://evil.example\r\n"), 403, id="origin-twice-evil-second"),
    # Python's header parser (which gevent uses) ends the head at a line without a colon and keeps
    # the valid headers before it: lenient, harmless, and the handshake is otherwise complete.
    pytest.param(_request("GET", "/ws/corpus", extra="No colon here\r\n"), 101, id="header-without-colon"),
]


@pytest.mark.parametrize(("head", "status"), RAW_REQUESTS)
def test_malformed_request(corpus_server, healthy, request, head, status):
    with RawClient(corpus_server.port) as client:
        answer = client.request(head)
    assert answer.status == status, answer
    healthy.assert_unaffected(request.node.callspec.id)


def test_head_request_is_refused_without_a_body(corpus_server, healthy):
    with RawClient(corpus_server.port) as client:
        answer = client.request(_request("HEAD", "/ws/corpus"), head_method=True)
    assert answer.status == 400
    healthy.assert_unaffected("HEAD")


def test_plain_get_without_upgrade_says_why(corpus_server, healthy):
    with RawClient(corpus_server.port) as client:
        answer = client.request(b"GET /ws/corpus HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.status == 400 and b"WebSocket upgrade is required" in answer.body
    healthy.assert_unaffected("plain GET")


# -- frames on an open socket: a close code, or ignored and the socket stays usable -------------------

CLOSE, ECHO, IGNORED, PONG, DROPPED = "close", "echo", "ignored", "pong", "dropped"


def _frame(opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    return masked_frame(opcode, payload, **kwargs)


def _close(code: int, reason: bytes = b"") -> bytes:
    return _frame(OP_CLOSE, struct.pack("!H", code) + reason)


def _non_minimal_length(payload: bytes) -> bytes:
    """A masked text frame whose small length is spelled in the 16-bit form (RFC 6455 says minimal)."""
    mask = b"\x01\x02\x03\x04"
    return bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload)) + mask + \
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


FRAMES = [
    # Unmasked, reserved bits, reserved opcodes: 1002, the stream cannot be trusted any further.
    pytest.param([_frame(OP_TEXT, b"hi", masked=False)], (CLOSE, 1002), id="unmasked-text"),
    pytest.param([_frame(OP_PING, b"", masked=False)], (CLOSE, 1002), id="unmasked-ping"),
    pytest.param([_frame(OP_TEXT, b"hi", rsv=4)], (CLOSE, 1002), id="rsv1"),
    pytest.param([_frame(OP_TEXT, b"hi", rsv=2)], (CLOSE, 1002), id="rsv2"),
    pytest.param([_frame(OP_TEXT, b"hi", rsv=1)], (CLOSE, 1002), id="rsv3"),
    pytest.param([_frame(OP_PING, b"", rsv=7)], (CLOSE, 1002), id="rsv-all-on-ping"),
    *[pytest.param([_frame(op, b"x")], (CLOSE, 1002), id=f"reserved-opcode-{op:#x}")
      for op in (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF)],
    pytest.param([b"GET / HTTP/1.1\r\n\r\n"], (CLOSE, 1002), id="http-after-upgrade"),
    # Invalid UTF-8 in text: 1007.
    pytest.param([_frame(OP_TEXT, b"\xff")], (CLOSE, 1007), id="utf8-invalid-byte"),
    pytest.param([_frame(OP_TEXT, b"\xc0\xaf")], (CLOSE, 1007), id="utf8-overlong"),
    pytest.param([_frame(OP_TEXT, b"\xed\xa0\x80")], (CLOSE, 1007), id="utf8-surrogate"),
    pytest.param([_frame(OP_TEXT, b"abc\xe2\x82")], (CLOSE, 1007), id="utf8-truncated"),
    pytest.param([_frame(OP_TEXT, b"\xc3", fin=False), _frame(OP_CONTINUATION, b"(")], (CLOSE, 1007),
                 id="utf8-invalid-across-fragments"),
    pytest.param([_frame(OP_TEXT, b"\xc3", fin=False), _frame(OP_CONTINUATION, b"\xa9")], (ECHO, OP_TEXT, b"\xc3\xa9"),
                 id="utf8-valid-split-across-fragments"),
    pytest.param([_frame(OP_BINARY, b"\xff\xfe")], (ECHO, OP_BINARY, b"\xff\xfe"), id="binary-is-not-utf8-checked"),
    # Size: data messages are bounded by max_message_size (1009), control frames by 125 bytes (1002).
    pytest.param([_frame(OP_TEXT, b"a" * (MAX_SIZE + 1))], (CLOSE, 1009), id="oversized-text"),
    pytest.param([_frame(OP_BINARY, b"\0" * (MAX_SIZE + 1))], (CLOSE, 1009), id="oversized-binary"),
    pytest.param([_frame(OP_TEXT, b"a" * 600, fin=False), _frame(OP_CONTINUATION, b"a" * 600)], (CLOSE, 1009),
                 id="oversized-fragmented"),
    pytest.param([bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 2**63 - 1)], (CLOSE, 1009),
                 id="length-2-to-the-63"),
    pytest.param([_frame(OP_TEXT, b"a" * MAX_SIZE)], (ECHO, OP_TEXT, b"a" * MAX_SIZE), id="exactly-the-limit"),
    pytest.param([_frame(OP_PING, b"p" * 126)], (CLOSE, 1002), id="ping-over-125"),
    pytest.param([_frame(OP_CLOSE, struct.pack("!H", 1000) + b"r" * 124)], (CLOSE, 1002), id="close-over-125"),
    pytest.param([_frame(OP_PONG, b"p" * 200)], (CLOSE, 1002), id="pong-over-125"),
    # Fragmentation rules: 1002.
    pytest.param([_frame(OP_PING, b"", fin=False)], (CLOSE, 1002), id="fragmented-ping"),
    pytest.param([_frame(OP_CLOSE, b"", fin=False)], (CLOSE, 1002), id="fragmented-close"),
    pytest.param([_frame(OP_CONTINUATION, b"orphan")], (CLOSE, 1002), id="continuation-without-start"),
    pytest.param([_frame(OP_TEXT, b"a", fin=False), _frame(OP_TEXT, b"b")], (CLOSE, 1002),
                 id="text-inside-fragmented-text"),
    pytest.param([_frame(OP_BINARY, b"a", fin=False), _frame(OP_TEXT, b"b")], (CLOSE, 1002),
                 id="text-inside-fragmented-binary"),
    pytest.param([_frame(OP_TEXT, b"a", fin=False), _frame(OP_PING, b"mid"), _frame(OP_CONTINUATION, b"b")],
                 (PONG, b"mid", b"ab"), id="ping-between-fragments-is-allowed"),
    # Close frames: malformed ones 1002 (1007 for a bad reason); valid ones are echoed.
    pytest.param([_frame(OP_CLOSE, b"\x03")], (CLOSE, 1002), id="close-one-byte"),
    *[pytest.param([_close(code)], (CLOSE, 1002), id=f"close-code-{code}")
      for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)],
    pytest.param([_close(1000, b"\xff\xfe")], (CLOSE, 1007), id="close-reason-not-utf8"),
    pytest.param([_close(1000, "bye ✓".encode())], (CLOSE, 1000), id="close-1000-echoed"),
    pytest.param([_close(4999)], (CLOSE, 4999), id="close-private-code-echoed"),
    pytest.param([_frame(OP_CLOSE, b"")], (CLOSE, None), id="close-empty-echoed-empty"),
    # Control and empty frames: answered or ignored, the socket stays usable.
    pytest.param([_frame(OP_PING, b"are you there \x00\xff")], (PONG, b"are you there \x00\xff", None),
                 id="ping-payload-echoed-in-pong"),
    pytest.param([_frame(OP_PING, b"p" * 125)], (PONG, b"p" * 125, None), id="ping-125-bytes"),
    pytest.param([_frame(OP_PONG, b"unsolicited")], (IGNORED,), id="unsolicited-pong"),
    pytest.param([_frame(OP_TEXT, b"")], (IGNORED,), id="empty-text"),
    pytest.param([_frame(OP_BINARY, b"")], (IGNORED,), id="empty-binary"),
    pytest.param([_frame(OP_TEXT, b"", fin=False), _frame(OP_CONTINUATION, b"")], (IGNORED,),
                 id="empty-fragmented-text"),
    pytest.param([_non_minimal_length(b"short")], (ECHO, OP_TEXT, b"short"), id="non-minimal-length-accepted"),
    pytest.param([bytes([byte]) for byte in _frame(OP_TEXT, b"trickled")], (ECHO, OP_TEXT, b"trickled"),
                 id="frame-trickled-byte-by-byte"),
    # The client vanishes: nothing to answer, but the server must forget the socket.
    pytest.param([bytes([0x81, 0x80 | 100]) + b"\x00\x00\x00\x00" + b"half"], (DROPPED,), id="drop-mid-frame"),
    pytest.param([b"\x81"], (DROPPED,), id="drop-after-one-byte"),
]


def _attached(server: LiveServer) -> int:
    return len(server.middleware.hub.subscriptions)


@pytest.mark.parametrize(("chunks", "answer"), FRAMES)
def test_bad_frame(corpus_server, healthy, request, chunks, answer):
    client = RawClient(corpus_server.port)
    try:
        assert client.handshake(SOCKET_PATH).status == 101
        for chunk in chunks:
            client.sock.sendall(chunk)
            if len(chunk) == 1:
                gevent.sleep(0.002)  # trickle: the server must wait for the rest, not misparse
        kind = answer[0]
        if kind == DROPPED:
            client.close()
        elif kind == CLOSE:
            close = client.read_until_close()
            assert close.close_code == answer[1], close
            try:  # a polite client answers the close; the server then drops the connection
                client.sock.sendall(_frame(OP_CLOSE, close.payload[:2]))
                client.wait_eof()  # a socket.timeout here (the server kept it open) fails the case
            except (BrokenPipeError, ConnectionResetError):
                pass  # it may already have dropped it (1002, 1009: the stream is out of sync)
        else:
            if kind == PONG:
                pong = client.read_frame()
                assert (pong.opcode, pong.payload) == (OP_PONG, answer[1])
                if answer[2] is not None:
                    assert client.read_frame() == (True, OP_TEXT, answer[2])
            elif kind == ECHO:
                assert client.read_frame() == (True, answer[1], answer[2])
            client.send_frame(OP_TEXT, b"probe")  # the socket still works, and nothing came first
            assert client.read_frame() == (True, OP_TEXT, b"probe")
    finally:
        client.close()
    wait_until(lambda: _attached(corpus_server) == 1, what="the bad socket to be released")
    healthy.assert_unaffected(request.node.callspec.id)


# -- facilities: 400 unless the path names a safe one ---------------------------------------------

FACILITIES = [
    pytest.param("/ws/a:b", 400, id="colon"),
    pytest.param("/ws/a%3Ab", 400, id="percent-encoded-colon"),  # the server decodes the path first
    pytest.param("/ws/a%3ab", 400, id="percent-encoded-colon-lower"),
    pytest.param("/ws/a%20b", 400, id="space"),
    pytest.param("/ws/a%09b", 400, id="tab"),
    pytest.param("/ws/a%0Ab", 400, id="newline"),
    pytest.param("/ws/a%0D%0AX-Injected:%201", 400, id="crlf-injection"),
    pytest.param("/ws/a%00b", 400, id="nul"),
    pytest.param("/ws/a%7Fb", 400, id="del"),
    pytest.param("/ws/a%C2%A0b", 400, id="no-break-space"),
    pytest.param("/ws/a%E2%80%8Bb", 400, id="zero-width-space"),
    pytest.param("/ws/a%E2%80%AEb", 400, id="right-to-left-override"),
    pytest.param("/ws/a%FFb", 400, id="not-utf8"),
    pytest.param("/ws/a%ED%A0%80b", 400, id="utf8-surrogate"),
    pytest.param("/ws/", 400, id="empty"),
    pytest.param("/ws/" + "f" * 201, 400, id="201-characters"),
    pytest.param("/ws/" + "f" * 200, 101, id="200-characters"),
    pytest.param("/ws/caf%C3%A9-%E2%9C%93", 101, id="unicode-allowed"),
    pytest.param("/ws/a/b", 101, id="slash-allowed"),
    pytest.param("/ws/50%25", 101, id="percent-sign-allowed"),
]


@pytest.mark.parametrize(("path", "status"), FACILITIES)
def test_hostile_facility(corpus_server, healthy, request, path, status):
    answer = handshake_status(corpus_server.port, path + "?subscribe-broadcast")
    assert answer.status == status, answer
    if status == 400:
        assert b"facility" in answer.body
    healthy.assert_unaffected(request.node.callspec.id)


# -- identities: any name maps to its own channel, escaped, never shared -----------------------------

IDENTITIES = [
    pytest.param({"X-User": "a%3Ab"}, "subscribe-user", "user:a%3Ab:who", id="user-colon"),
    pytest.param({"X-User": "a%253Ab"}, "subscribe-user", "user:a%253Ab:who", id="user-literal-percent-3A"),
    pytest.param({"X-User": "50%25"}, "subscribe-user", "user:50%25:who", id="user-percent"),
    pytest.param({"X-User": "a%20b"}, "subscribe-user", "user:a%20b:who", id="user-space"),
    pytest.param({"X-User": "a%0Ab"}, "subscribe-user", "user:a%0Ab:who", id="user-newline"),
    pytest.param({"X-User": "a%00b"}, "subscribe-user", "user:a%00b:who", id="user-nul"),
    pytest.param({"X-User": "%C3%BCn%C3%AF"}, "subscribe-user", "user:ünï:who", id="user-unicode-kept"),
    pytest.param({"X-User": "u", "X-Groups": "staff%3Aadmin"}, "subscribe-group", "group:staff%3Aadmin:who",
                 id="group-colon"),
    pytest.param({"X-User": "u", "X-Groups": "a%20b"}, "subscribe-group", "group:a%20b:who", id="group-space"),
    pytest.param({"X-Session": "s%3Ax"}, "subscribe-session", "session:s%3Ax:who", id="session-colon"),
]


@pytest.mark.parametrize(("headers", "key", "channel"), IDENTITIES)
def test_hostile_identity(corpus_server, healthy, redis_server, request, headers, key, channel):
    with RawClient(corpus_server.port) as client:
        assert client.handshake(f"/ws/who?{key}", headers).status == 101
        channels = pubsub_channels(redis_server)
        assert channel in channels
        assert not any(c.endswith(":who") and c != channel for c in channels)  # exactly one channel
    healthy.assert_unaffected(request.node.callspec.id)


def test_escaped_names_cannot_collide(corpus_server, healthy, redis_url):
    """``a:b`` and a literal ``a%3Ab`` are different users; each gets only its own messages."""
    colon = corpus_server.connect("/ws/who?subscribe-user", header=["X-User: a%3Ab"])
    literal = corpus_server.connect("/ws/who?subscribe-user", header=["X-User: a%253Ab"])
    try:
        wait_until(lambda: _attached(corpus_server) == 3, what="both sockets")
        for user in ("a:b", "a%3Ab"):
            publisher = RedisPublisher(facility="who", users=[user], connection=redis_url)
            assert publisher.publish_message(f"for {user}", expire=0) == 1
        assert colon.recv() == "for a:b"
        assert literal.recv() == "for a%3Ab"
    finally:
        colon.close()
        literal.close()
    healthy.assert_unaffected("two look-alike users")


def test_too_many_groups_is_refused(corpus_server, healthy):
    groups = ",".join(f"g{n}" for n in range(150))
    answer = handshake_status(corpus_server.port, "/ws/who?subscribe-group", {"X-User": "u", "X-Groups": groups})
    assert answer.status == 400 and b"WS4REDIS_MAX_SUBSCRIPTIONS" in answer.body
    healthy.assert_unaffected("150 groups")


# -- Origins: a browser's Origin must be this host:port (any scheme) or in allowed_origins --------------

ORIGINS = [
    pytest.param(None, 101, id="no-origin-non-browser"),
    pytest.param("http://127.0.0.1:{port}", 101, id="same-host-and-port"),
    pytest.param("https://127.0.0.1:{port}", 101, id="same-host-port-other-scheme"),
    pytest.param("HTTP://127.0.0.1:{port}/", 101, id="same-origin-case-and-slash"),
    pytest.param("null", 403, id="null"),
    pytest.param("http://evil.example", 403, id="other-host"),
    pytest.param("http://127.0.0.1:1", 403, id="same-host-other-port"),
    pytest.param("http://127.0.0.1", 403, id="same-host-default-port"),
    pytest.param("http://localhost:{port}", 403, id="localhost-alias"),
    pytest.param("http://127.0.0.1:{port}@evil.example", 403, id="userinfo-trick"),
    pytest.param("http://127.0.0.1:{port}.evil.example", 403, id="port-suffix-trick"),
    pytest.param("ws://127.0.0.1:{port}", 101, id="ws-scheme-same-host"),
    pytest.param("file://", 403, id="file-scheme"),
    pytest.param("*", 403, id="wildcard-sent-by-client"),
    pytest.param("http://[::1", 403, id="malformed-ipv6-origin"),
    pytest.param("http://127.0.0.1:99999", 403, id="port-out-of-range"),
    pytest.param(ALLOWED_ORIGIN, 101, id="allowed-origin"),
    pytest.param(ALLOWED_ORIGIN.upper() + "/", 101, id="allowed-origin-case-and-slash"),
    pytest.param("http://allowed.example", 403, id="allowed-host-other-scheme"),
    pytest.param(ALLOWED_ORIGIN + ":8443", 403, id="allowed-host-other-port"),
    pytest.param("https://sub.allowed.example", 403, id="allowed-subdomain"),
    pytest.param("https://allowed.example.evil.example", 403, id="allowed-as-prefix"),
]


@pytest.mark.parametrize(("origin", "status"), ORIGINS)
def test_origin(corpus_server, healthy, request, origin, status):
    headers = {"Host": f"127.0.0.1:{corpus_server.port}"}
    if origin is not None:
        headers["Origin"] = origin.format(port=corpus_server.port)
    answer = handshake_status(corpus_server.port, "/ws/corpus?subscribe-broadcast", headers)
    assert answer.status == status, answer
    if status == 403:
        assert b"WS4REDIS_ALLOWED_ORIGINS" in answer.body
    healthy.assert_unaffected(request.node.callspec.id)


def test_malformed_host_with_an_origin_is_refused(corpus_server, healthy):
    """A Host that cannot be parsed can match no Origin: 403, never a server error."""
    answer = handshake_status(corpus_server.port, "/ws/corpus?subscribe-broadcast",
                              {"Host": "[::1", "Origin": "http://evil.example"})
    assert answer.status == 403, answer
    healthy.assert_unaffected("malformed Host")


def test_the_corpus_is_at_least_fifty_cases():
    total = (len(HANDSHAKES) + len(RAW_REQUESTS) + 2 + len(FRAMES) + len(FACILITIES) + len(IDENTITIES) + 2
             + len(ORIGINS) + 1)
    assert total >= 50, total
