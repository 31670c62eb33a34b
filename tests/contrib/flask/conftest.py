"""Flask test apps (Flask-Login with three users) served by real gevent servers on free ports.

Logins go through a real HTTP POST to the live server; the session cookie it sets is then sent
on a real WebSocket handshake, as a browser would.
"""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import flask
import flask_login
import pytest

from tests.conftest import WAIT, LiveServer
from wsredis_middleware.contrib.flask import WSRedis

PASSWORDS = {"john": "john-pw", "mary": "mary-pw", "admin": "admin-pw"}
GROUPS = {"john": ("chatters",), "mary": ("chatters",), "admin": ("staff",)}


class User(flask_login.UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


def groups_of(request: Any, user: str) -> tuple[str, ...]:
    return GROUPS.get(user, ())


def make_app(redis_url: str, *, init_app: bool = False, **config: Any) -> flask.Flask:
    """A Flask app with Flask-Login, a login view, and ``config`` (``WS4REDIS_*`` names)."""
    app = flask.Flask(f"flask_test_app_{id(config)}")
    app.secret_key = "test-secret"
    app.config["WS4REDIS_CONNECTION"] = redis_url
    app.config["WS4REDIS_GROUP_LOADER"] = groups_of
    app.config["WS4REDIS_HEARTBEAT_INTERVAL"] = 0.5
    app.config.update(config)

    login_manager = flask_login.LoginManager(app)
    login_manager.user_loader(lambda name: User(name) if name in PASSWORDS else None)

    @app.post("/login")
    def login() -> Any:
        name = flask.request.form["username"]
        if PASSWORDS.get(name) != flask.request.form["password"]:
            flask.abort(401)
        flask_login.login_user(User(name))
        return "logged in"

    @app.post("/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "logged out"

    if init_app:
        extension = WSRedis()
        extension.init_app(app)
    else:
        WSRedis(app)
    return app


class Browser:
    """A cookie jar and real HTTP requests to a live server, like one browser profile."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        with self.opener.open(self.server.http_url(path), data=body, timeout=WAIT) as response:
            return response.status, response.read()

    def login(self, name: str) -> None:
        assert self.request("/login", {"username": name, "password": PASSWORDS[name]}) == (200, b"logged in")

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def connect(self, path: str, **kwargs: Any) -> Any:
        """A real WebSocket to *path*, sending this browser's cookies."""
        return self.server.connect(path, cookie=self.cookie_header, **kwargs)


@pytest.fixture
def flask_server(redis_url: str) -> Iterator[Callable[[flask.Flask], LiveServer]]:
    """Factory: ``flask_server(app)`` serves a Flask app using WSRedis on a free loopback port."""
    servers: list[LiveServer] = []

    def start(app: flask.Flask) -> LiveServer:
        server = LiveServer(app.wsgi_app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def app(redis_url: str) -> flask.Flask:
    return make_app(redis_url)


@pytest.fixture
def server(app: flask.Flask, flask_server: Callable[[flask.Flask], LiveServer]) -> LiveServer:
    return flask_server(app)
