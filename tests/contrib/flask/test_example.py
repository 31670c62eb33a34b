"""examples/flask_chat, tried as a new user would: its one command, the login page, the chat."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import WAIT, free_port
from tests.integration.support import close_all, wait_attached, wait_until

from .conftest import Browser

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flask_chat" / "app.py"
SOCKET_PATH = "/ws/chat?subscribe-broadcast&subscribe-user&subscribe-group"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("flask_chat_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def sign_in(server, name: str) -> Browser:
    browser = Browser(server)
    status, page = browser.request("/login", {"username": name, "password": f"{name}-pw"})
    assert status == 200 and b"Signed in as <strong>" + name.encode() in page  # redirected to the chat
    return browser


def send(browser: Browser, audience: str, to: str, text: str) -> int:
    request = urllib.request.Request(
        browser.server.http_url("/send"), method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"audience": audience, "to": to, "text": text}).encode(),
    )
    try:
        with browser.opener.open(request, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_chat_page_uses_the_served_client(example, redis_url, flask_server):
    server = flask_server(example.create_app(redis_url))
    assert Browser(server).request("/login")[0] == 200
    browser = sign_in(server, "john")
    page = browser.request("/")[1].decode()
    assert f'uri: "ws://127.0.0.1:{server.port}/ws/chat?subscribe-broadcast' in page
    assert 'heartbeat: "--heartbeat--"' in page
    assert '<script src="/_wsredis/wsredis.js"></script>' in page
    assert browser.request("/_wsredis/wsredis.js")[0] == 200
    assert browser.request("/static/chat.js")[0] == 200


def test_wrong_password_is_refused(example, redis_url, flask_server):
    server = flask_server(example.create_app(redis_url))
    with pytest.raises(urllib.error.HTTPError) as refused:
        Browser(server).request("/login", {"username": "john", "password": "nope"})
    assert refused.value.code == 401
    refused.value.close()


def test_broadcast_private_and_group_messages(example, redis_url, redis_server, flask_server):
    server = flask_server(example.create_app(redis_url))
    browsers = {name: sign_in(server, name) for name in ("john", "mary", "admin")}
    sockets = {name: b.connect(SOCKET_PATH) for name, b in browsers.items()}
    try:
        channels = wait_attached(server, redis_server, 3)
        assert {"flask-chat:user:john:chat", "flask-chat:group:chatters:chat", "flask-chat:group:staff:chat",
                "flask-chat:broadcast:chat"} <= channels
        assert send(browsers["john"], "user", "mary", "hi mary") == 200
        assert send(browsers["john"], "group", "chatters", "hi chatters") == 200
        assert send(browsers["john"], "group", "staff", "not my group") == 403
        assert send(browsers["admin"], "broadcast", "", "hello all") == 200

        def texts(name: str, count: int) -> list[tuple[str, str, str]]:
            messages = [json.loads(sockets[name].recv()) for _ in range(count)]
            return [(m["from"], m["audience"], m["text"]) for m in messages]

        assert texts("mary", 3) == [("john", "user", "hi mary"), ("john", "group", "hi chatters"),
                                    ("admin", "broadcast", "hello all")]
        assert texts("john", 3) == [("john", "user", "hi mary"), ("john", "group", "hi chatters"),
                                    ("admin", "broadcast", "hello all")]
        assert texts("admin", 1) == [("admin", "broadcast", "hello all")]  # nothing private, no chatters
    finally:
        close_all(sockets.values())


def test_missing_redis_names_the_fix(example):
    app = example.create_app(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(SystemExit, match=r"Start one .*WS4REDIS_CONNECTION"):
        example.check_redis(app)


def test_one_command_runs_it(redis_url):
    port = free_port()
    env = {**os.environ, "WS4REDIS_CONNECTION": redis_url}
    process = subprocess.Popen([sys.executable, str(EXAMPLE), "--port", str(port)], env=env, cwd=EXAMPLE.parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def login_page() -> bytes | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as response:
                    return response.read()
            except OSError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                return None

        assert b"Sign in" in wait_until(login_page, timeout=15, what="the example to serve /login")
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=WAIT)
    assert b"Flask chat on http://127.0.0.1:" in output
