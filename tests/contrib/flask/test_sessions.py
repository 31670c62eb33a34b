"""Session channels with Flask's signed cookie session and with a server-side session interface."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from tests.integration.support import close_all, wait_attached
from wsredis_middleware import SELF, RedisPublisher
from wsredis_middleware.contrib.flask import SESSION_ID_KEY, WSRedis, session_key

from .conftest import Browser, make_app


def add_session_views(app: flask.Flask) -> None:
    @app.post("/to-my-session")
    def to_my_session() -> str:
        publisher = RedisPublisher(facility="private", sessions=[SELF], request=flask.request)
        return str(publisher.publish_message(flask.request.form["message"]))

    @app.get("/my-session-key")
    def my_session_key() -> str:
        return session_key() or ""

    @app.get("/plain")
    def plain() -> str:
        return "no session used"

    @app.post("/cart")
    def cart() -> str:
        flask.session["cart"] = ["apple"]
        return "added"


def cookie_session(app: flask.Flask, browser: Browser) -> dict[str, Any]:
    """Decode the browser's signed session cookie, as the app would."""
    cookie = next(c for c in browser.jar if c.name == app.config["SESSION_COOKIE_NAME"])
    serializer = app.session_interface.get_signing_serializer(app)
    return dict(serializer.loads(cookie.value))


def test_cookie_sessions_get_a_random_id_and_their_own_channel(redis_url, redis_server, flask_server):
    app = make_app(redis_url)
    add_session_views(app)
    server = flask_server(app)
    first, second = Browser(server), Browser(server)
    first.login("john")
    second.login("john")  # same user, two browsers: two sessions
    first_id, second_id = (cookie_session(app, b)[SESSION_ID_KEY] for b in (first, second))
    assert len(first_id) == 32 and first_id != second_id
    sockets = [first.connect("/ws/private?subscribe-session"), second.connect("/ws/private?subscribe-session")]
    try:
        channels = wait_attached(server, redis_server, 2)
        assert {f"session:{first_id}:private", f"session:{second_id}:private"} <= channels
        assert first.request("/to-my-session", {"message": "first only"}) == (200, b"1")
        assert second.request("/to-my-session", {"message": "second only"}) == (200, b"1")
        assert sockets[0].recv() == "first only"
        assert sockets[1].recv() == "second only"
    finally:
        close_all(sockets)


def test_session_id_is_created_only_for_non_empty_sessions(redis_url, flask_server):
    app = flask.Flask("bare")  # no Flask-Login, whose own hook reads every session
    app.config.update(SECRET_KEY="test-secret", WS4REDIS_CONNECTION=redis_url)
    WSRedis(app)
    add_session_views(app)
    server = flask_server(app)
    browser = Browser(server)
    with browser.opener.open(server.http_url("/plain"), timeout=5) as response:
        assert response.headers.get("Set-Cookie") is None
        assert response.headers.get("Vary") is None
    assert list(browser.jar) == []
    browser.request("/cart", {})
    assert set(cookie_session(app, browser)) == {"cart", SESSION_ID_KEY}


def test_session_id_changes_at_login_and_logout(redis_url, flask_server):
    app = make_app(redis_url)
    add_session_views(app)
    server = flask_server(app)
    browser = Browser(server)
    browser.request("/cart", {})
    anonymous_id = cookie_session(app, browser)[SESSION_ID_KEY]
    browser.login("mary")
    logged_in_id = cookie_session(app, browser)[SESSION_ID_KEY]
    browser.request("/logout", {})
    logged_out_id = cookie_session(app, browser)[SESSION_ID_KEY]
    assert len({anonymous_id, logged_in_id, logged_out_id}) == 3
    assert browser.request("/my-session-key") == (200, logged_out_id.encode())


def test_a_view_can_give_an_empty_session_its_id(redis_url, flask_server):
    app = make_app(redis_url)
    add_session_views(app)
    browser = Browser(flask_server(app))
    status, key = browser.request("/my-session-key")
    assert status == 200 and len(key) == 32
    assert cookie_session(app, browser) == {SESSION_ID_KEY: key.decode()}


class ServerSideSession(CallbackDict, SessionMixin):  # type: ignore[misc]
    def __init__(self, initial: dict[str, Any] | None, sid: str) -> None:
        def on_update(session: ServerSideSession) -> None:
            session.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False


class DictSessionInterface(SessionInterface):
    """A server-side session store (a dict standing in for Redis or a database) keyed by ``sid``."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    def open_session(self, app: flask.Flask, request: flask.Request) -> ServerSideSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid in self.store:
            return ServerSideSession(self.store[sid], sid)
        return ServerSideSession(None, secrets.token_urlsafe(24))

    def save_session(self, app: flask.Flask, session: Any, response: flask.Response) -> None:
        if not session.modified:
            return
        self.store[session.sid] = dict(session)
        response.set_cookie(self.get_cookie_name(app), session.sid, httponly=True)


def test_server_side_sessions_use_a_hash_of_their_sid(redis_url, redis_server, flask_server):
    app = make_app(redis_url)
    app.session_interface = interface = DictSessionInterface()
    add_session_views(app)
    server = flask_server(app)
    browser, other = Browser(server), Browser(server)
    browser.login("john")
    other.login("mary")
    sid = next(c.value for c in browser.jar if c.name == "session")
    assert interface.store[sid]["_user_id"] == "john"
    assert SESSION_ID_KEY not in interface.store[sid]  # the sid is the id: nothing stored for us
    expected = hashlib.sha256(sid.encode()).hexdigest()[:32]
    assert browser.request("/my-session-key") == (200, expected.encode())
    sockets = [browser.connect("/ws/private?subscribe-session&subscribe-user"),
               other.connect("/ws/private?subscribe-session")]
    try:
        channels = wait_attached(server, redis_server, 2)
        assert {f"session:{expected}:private", "user:john:private"} <= channels
        assert not any(sid in name for name in channels)  # the cookie's value never names a channel
        assert browser.request("/to-my-session", {"message": "server-side"}) == (200, b"1")
        assert other.request("/to-my-session", {"message": "for mary's session"}) == (200, b"1")
        assert sockets[0].recv() == "server-side"
        assert sockets[1].recv() == "for mary's session"
    finally:
        close_all(sockets)


def test_resolving_self_does_not_give_an_empty_session_a_cookie(redis_url, flask_server):
    app = flask.Flask("bare")
    app.config.update(SECRET_KEY="test-secret", WS4REDIS_CONNECTION=redis_url)
    WSRedis(app)

    @app.post("/to-me")
    def to_me() -> str:
        publisher = RedisPublisher(facility="private", users=[SELF], sessions=[SELF], request=flask.request)
        return str(publisher.publish_message("nobody to receive it"))

    browser = Browser(flask_server(app))
    assert browser.request("/to-me", {}) == (200, b"0")
    assert list(browser.jar) == []
