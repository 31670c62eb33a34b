"""``manage.py runserver`` and the example's ``manage.py run`` as real subprocesses: pages, static
files and WebSockets on one port, and the clear error when gevent's monkey-patching is missing."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import websocket

from tests.conftest import WAIT, free_port

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "django_chat"
PREFIX = "django_chat"  # the example's WS4REDIS_PREFIX
START_TIMEOUT = 30.0


class Process:
    """A manage.py command serving on a free port, stopped (killed if need be) by the fixture."""

    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.popen = subprocess.Popen(args, cwd=EXAMPLE, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.popen.poll() is not None:
                pytest.fail(f"the server exited with {self.popen.returncode}:\n{self.popen.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen in time"
                time.sleep(0.1)

    def stop(self) -> str:
        self.popen.terminate()
        try:
            output, _ = self.popen.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            output, _ = self.popen.communicate(timeout=10)
        return output


@pytest.fixture
def example_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(WS4REDIS_CONNECTION=redis_url, DJANGO_CHAT_DB=str(tmp_path / "db.sqlite3"), PYTHONUNBUFFERED="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.fixture
def serve(example_env: dict[str, str]) -> Iterator:
    started: list[Process] = []

    def start(*command: str) -> Process:
        port = free_port()
        process = Process([sys.executable, "manage.py", *command, f"127.0.0.1:{port}", "--noreload"],
                          example_env, port)
        started.append(process)
        process.wait_until_listening()
        return process

    yield start
    for process in started:
        process.stop()


def wait_for_subscriber(redis_url: str, channel: str) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=WAIT) as client:
        deadline = time.monotonic() + WAIT
        while not client.pubsub_numsub(channel)[0][1]:
            assert time.monotonic() < deadline, f"nobody subscribed to {channel} in time"
            time.sleep(0.02)


def test_runserver_serves_pages_static_files_and_websockets(serve, redis_url):
    server = serve("runserver")
    base = f"http://127.0.0.1:{server.port}"
    with urllib.request.urlopen(f"{base}/", timeout=WAIT) as response:
        assert response.status == 200 and b"chat" in response.read()
    with urllib.request.urlopen(f"{base}/static/wsredis/wsredis.js", timeout=WAIT) as response:
        assert response.read() == (EXAMPLE.parents[1] / "wsredis_middleware" / "static" / "wsredis.js").read_bytes()
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws/broadcast?subscribe-broadcast", timeout=WAIT)
    try:
        wait_for_subscriber(redis_url, f"{PREFIX}:broadcast:broadcast")
        with redis.Redis.from_url(redis_url) as client:
            assert client.publish(f"{PREFIX}:broadcast:broadcast", "through runserver") == 1
        assert ws.recv() == "through runserver"
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws/userchat?subscribe-user", timeout=WAIT)
    assert refused.value.status_code == 403  # the example's callback: anonymous users may not


class Browser:
    """Just enough of a browser: a cookie jar, CSRF tokens from forms, and a WebSocket with its cookies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=WAIT) as response:
            return response.read().decode()

    def post(self, path: str, form_page: str, **fields: str) -> bytes:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(form_page)).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        with self.opener.open(self.base + path, data=data, timeout=WAIT) as response:
            return response.read()

    def login(self, name: str) -> None:
        self.post("/accounts/login/", "/accounts/login/", username=name, password=name)

    def websocket(self, path: str) -> websocket.WebSocket:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return websocket.create_connection(self.base.replace("http", "ws", 1) + path, cookie=cookie,
                                           timeout=WAIT, origin=self.base)


def test_the_example_in_one_command_john_and_mary_chat_privately(serve, redis_url):
    server = serve("run")  # migrates, loads the demo users, starts runserver
    base = f"http://127.0.0.1:{server.port}"
    people = {name: Browser(base) for name in ("john", "mary", "admin")}
    sockets = {}
    try:
        for name, browser in people.items():
            browser.login(name)
            sockets[name] = browser.websocket("/ws/userchat?subscribe-user")
            wait_for_subscriber(redis_url, f"{PREFIX}:user:{name}:userchat")
        answer = json.loads(people["mary"].post("/user/send/", "/user/", recipient="john", text="hi john"))
        assert answer == {"receivers": 2}  # john's socket and mary's own (SELF)
        expected = {"sender": "mary", "text": "hi john", "recipient": "john"}
        assert json.loads(sockets["john"].recv()) == expected
        assert json.loads(sockets["mary"].recv()) == expected
        json.loads(people["john"].post("/user/send/", "/user/", recipient="admin", text="marker"))
        assert json.loads(sockets["admin"].recv())["text"] == "marker"  # admin's first message: not mary's
    finally:
        for ws in sockets.values():
            ws.close()


def test_runserver_without_monkey_patching_says_how_to_fix_it(example_env):
    # `python -m django` imports Django without patching first, as a manage.py without the two lines would.
    example_env.update(DJANGO_SETTINGS_MODULE="chatserver.settings", PYTHONPATH=str(EXAMPLE))
    result = subprocess.run([sys.executable, "-m", "django", "runserver", f"127.0.0.1:{free_port()}", "--noreload"],
                            cwd=EXAMPLE, env=example_env, capture_output=True, text=True, timeout=START_TIMEOUT)
    assert result.returncode == 1
    assert "from gevent import monkey" in result.stderr and "monkey.patch_all()" in result.stderr
