"""wsredis.js in a real browser: chatting, reconnecting, the heartbeat watch, close(), binary data."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import wait_for
from tests.conftest import WAIT, free_port
from wsredis_middleware import RedisPublisher, WebSocketRedisMiddleware
from wsredis_middleware.server import make_server

ROOT = Path(__file__).resolve().parents[2]
HARNESS = (Path(__file__).with_name("harness.html")).read_bytes()


def harness_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [HARNESS]


class Site:
    """A server on a fixed port that can be stopped and started again, as a deploy would."""

    def __init__(self, make_app: Callable[[], Any]) -> None:
        self.make_app = make_app
        self.port = free_port()
        self.handshakes = 0
        self.server: Any = None
        self.app: Any = None

    def _counting(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            self.handshakes += 1
        return self.app(environ, start_response)

    def start(self) -> None:
        self.app = self.make_app()
        self.server = make_server(self._counting, "127.0.0.1", self.port, log=None)
        self.server.start()

    def stop(self) -> None:
        """What a graceful restart does: close every socket with 1001, then stop serving."""
        if self.server is not None:
            self.app.hub.close_all(1001, "server restart")
            self.server.stop(timeout=WAIT)
            self.app.hub.stop()
            self.server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def site(redis_url: str) -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def start(make_app: Callable[[], Any]) -> Site:
        s = Site(make_app)
        s.start()
        sites.append(s)
        return s

    yield start
    for s in sites:
        s.stop()


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("wsgi_chat_example", ROOT / "examples" / "wsgi_chat" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_pages_chat_through_the_example(site, browser, redis_url):
    example = load_example()
    chat = site(lambda: example.make_application(redis_url))
    alice, bob = browser(), browser()
    for page in (alice, bob):
        page.get(chat.url("/"))
        wait_for(page, "return document.getElementById('status').textContent === 'connected'")

    alice.find_element("id", "text").send_keys("hello from alice")
    alice.find_element("id", "send-button").click()

    for page in (alice, bob):
        wait_for(page, "return [...document.querySelectorAll('#messages li')].map(li => li.textContent)"
                       ".includes('hello from alice')")
    # Text content, never markup: a message cannot inject HTML into the other page.
    RedisPublisher(facility="chat", broadcast=True, connection=redis_url).publish_message("<b>bold?</b>")
    wait_for(bob, "return [...document.querySelectorAll('#messages li')].some(li => li.textContent === '<b>bold?</b>')")
    assert bob.execute_script("return document.querySelectorAll('#messages b').length") == 0


def test_page_keeps_working_after_the_server_restarts(site, browser, redis_url):
    harness = site(lambda: WebSocketRedisMiddleware(harness_app, connection=redis_url))
    page = browser()
    page.get(harness.url("/?facility=restart"))
    wait_for(page, "return window.events.filter(e => e === 'connected').length === 1")

    harness.stop()
    wait_for(page, "return window.events.includes('disconnected')")
    harness.start()
    wait_for(page, "return window.events.filter(e => e === 'connected').length === 2", timeout=15)

    publisher = RedisPublisher(facility="restart", broadcast=True, connection=redis_url)
    assert publisher.publish_message("after the restart") == 1
    wait_for(page, "return window.received.some(m => m.text === 'after the restart')")


def test_heartbeat_watch_replaces_a_silent_connection(site, browser, redis_url):
    # The server sends no heartbeats, so a client expecting one every 300 ms must give up on the
    # connection after three silent periods and open a new one.
    silent = site(lambda: WebSocketRedisMiddleware(harness_app, connection=redis_url))
    page = browser()
    page.get(silent.url("/?facility=silent&heartbeat=--hb--&heartbeat_interval=300"))
    wait_for(page, "return window.events.filter(e => e === 'connected').length >= 3", timeout=15)
    assert silent.handshakes >= 3


def test_heartbeats_keep_a_connection(site, browser, redis_url):
    # The contrast to the test above: with the server sending heartbeats, one connection lasts.
    talking = site(lambda: WebSocketRedisMiddleware(
        harness_app, connection=redis_url, heartbeat="--hb--", heartbeat_interval=0.1))
    page = browser()
    page.get(talking.url("/?facility=talking&heartbeat=--hb--&heartbeat_interval=300"))
    wait_for(page, "return window.events.includes('connected')")
    page.execute_async_script("setTimeout(arguments[arguments.length - 1], 2000)")
    assert page.execute_script("return window.events") == ["connecting", "connected"]
    assert talking.handshakes == 1
    assert page.execute_script("return window.received.length") == 0  # heartbeats are not messages


def test_close_stops_reconnecting(site, browser, redis_url):
    harness = site(lambda: WebSocketRedisMiddleware(harness_app, connection=redis_url))
    page = browser()
    page.get(harness.url("/?facility=closing"))
    wait_for(page, "return window.events.includes('connected')")
    page.execute_script("window.client.close()")
    harness.stop()
    harness.start()
    page.execute_async_script("setTimeout(arguments[arguments.length - 1], 2000)")
    assert harness.handshakes == 1
    assert page.execute_script("return window.client.is_closed() && !window.client.is_connecting()")


def test_binary_messages_arrive_as_array_buffers(site, browser, redis_url, redis_server):
    harness = site(lambda: WebSocketRedisMiddleware(harness_app, connection=redis_url))
    page = browser()
    page.get(harness.url("/?facility=bytes"))
    wait_for(page, "return window.events.includes('connected')")
    RedisPublisher(facility="bytes", broadcast=True, connection=redis_url).publish_message(b"\x00\xff\x10")
    wait_for(page, "return window.received.length === 1")
    assert page.execute_script("return window.received[0]") == {"binary": True, "bytes": [0, 255, 16]}
