"""Logged-in browsers on real WebSockets: per-user, per-group and broadcast delivery in a Flask app."""

from __future__ import annotations

import flask
import pytest

from tests.integration.support import close_all, wait_attached
from wsredis_middleware import SELF, RedisPublisher

from .conftest import Browser


def logged_in(server, *names: str) -> dict[str, Browser]:
    browsers = {}
    for name in names:
        browsers[name] = Browser(server)
        browsers[name].login(name)
    return browsers


def test_flask_login_user_gets_their_user_channel_only(app, server, redis_server):
    browsers = logged_in(server, "john", "mary")
    sockets = {name: b.connect("/ws/chat?subscribe-user") for name, b in browsers.items()}
    try:
        channels = wait_attached(server, redis_server, 2)
        assert {"user:john:chat", "user:mary:chat"} <= channels
        with app.app_context():
            assert RedisPublisher(facility="chat", users=["john"]).publish_message("for john") == 1
            assert RedisPublisher(facility="chat", users=["mary"]).publish_message("for mary") == 1
        assert sockets["john"].recv() == "for john"
        # Redis delivers in publication order: had mary received john's message, it would come first.
        assert sockets["mary"].recv() == "for mary"
    finally:
        close_all(sockets.values())


def test_anonymous_browser_gets_no_user_channel(server, redis_server):
    ws = Browser(server).connect("/ws/chat?subscribe-user&subscribe-broadcast")
    try:
        channels = wait_attached(server, redis_server, 1)
        assert not any(name.startswith("user:") for name in channels)
        assert "broadcast:chat" in channels
    finally:
        ws.close()


def test_group_members_get_group_messages(app, server, redis_server):
    browsers = logged_in(server, "john", "mary", "admin")
    sockets = {name: b.connect("/ws/chat?subscribe-group") for name, b in browsers.items()}
    try:
        channels = wait_attached(server, redis_server, 3)
        assert {"group:chatters:chat", "group:staff:chat"} <= channels
        with app.app_context():
            # Redis counts subscriber connections: the server's one hub, however many sockets.
            assert RedisPublisher(facility="chat", groups=["chatters"]).publish_message("hi chatters") == 1
            assert RedisPublisher(facility="chat", groups=["staff"]).publish_message("hi staff") == 1
        assert sockets["john"].recv() == "hi chatters"
        assert sockets["mary"].recv() == "hi chatters"
        assert sockets["admin"].recv() == "hi staff"
    finally:
        close_all(sockets.values())


@pytest.mark.parametrize(
    ("audience", "query"),
    [
        pytest.param("users", "subscribe-user", id="user"),
        pytest.param("groups", "subscribe-group", id="groups"),
        pytest.param("sessions", "subscribe-session", id="session"),
    ],
)
def test_self_in_a_view_means_the_requesting_browser(app, server, redis_server, audience, query):
    @app.post("/notify-me")
    def notify_me() -> str:
        publisher = RedisPublisher(facility="inbox", request=flask.request, **{audience: [SELF]})
        return str(publisher.publish_message(f"{audience} of {flask.request.form['who']}"))

    browsers = logged_in(server, "john", "admin")
    sockets = {name: b.connect(f"/ws/inbox?{query}") for name, b in browsers.items()}
    try:
        wait_attached(server, redis_server, 2)
        assert browsers["john"].request("/notify-me", {"who": "john"}) == (200, b"1")
        assert browsers["admin"].request("/notify-me", {"who": "admin"}) == (200, b"1")
        assert sockets["john"].recv() == f"{audience} of john"
        assert sockets["admin"].recv() == f"{audience} of admin"
    finally:
        close_all(sockets.values())


def test_publisher_in_app_context_uses_the_apps_settings(redis_url, redis_server, flask_server):
    from .conftest import make_app

    app = make_app(redis_url, WS4REDIS_PREFIX="site1", WS4REDIS_EXPIRE=60)
    server = flask_server(app)
    with app.app_context():
        assert RedisPublisher(facility="news", broadcast=True).publish_message("persisted") == 0
    with redis_server.client() as client:
        assert client.get("site1:broadcast:news") == b"persisted"
        assert 55 <= client.ttl("site1:broadcast:news") <= 60
    ws = Browser(server).connect("/ws/news?subscribe-broadcast")
    try:
        assert ws.recv() == "persisted"  # replayed on connect
        wait_attached(server, redis_server, 1)
        with app.app_context():
            assert RedisPublisher(facility="news", broadcast=True).publish_message("live") == 1
        assert ws.recv() == "live"
    finally:
        ws.close()


def test_allowed_channels_callback_gets_flask_request_with_identity(redis_url, redis_server, flask_server):
    from .conftest import make_app

    seen = []

    def allowed(request, channels):
        seen.append((request is flask.request._get_current_object(), request.identity.user, request.facility,
                     flask.session.get("_user_id")))
        if request.identity.user == "john":
            return channels
        return [c for c in channels if c.startswith("subscribe-")]

    app = make_app(redis_url, WS4REDIS_ALLOWED_CHANNELS=allowed)
    server = flask_server(app)
    browsers = logged_in(server, "john", "mary")
    john = browsers["john"].connect("/ws/notes?subscribe-user&publish-user&echo")
    mary = browsers["mary"].connect("/ws/notes?subscribe-user&publish-user&echo")
    try:
        wait_attached(server, redis_server, 2)
        assert seen == [(True, "john", "notes", "john"), (True, "mary", "notes", "mary")]
        mary.send("from mary")  # dropped: mary may not publish
        john.send("note to self")
        assert john.recv() == "note to self"
        with app.app_context():
            RedisPublisher(facility="notes", users=["mary"]).publish_message("server to mary")
        assert mary.recv() == "server to mary"
    finally:
        close_all([john, mary])
