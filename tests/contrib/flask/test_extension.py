"""The extension itself: both initialisation forms, per-app settings, 403s, templates, the JS route."""

from __future__ import annotations

from pathlib import Path

import flask
import pytest
import websocket
from werkzeug.exceptions import Forbidden

import wsredis_middleware
from tests.integration.support import close_all, wait_attached, wait_until
from wsredis_middleware import ConfigurationError, PermissionDenied, RedisPublisher
from wsredis_middleware.connection import active_config
from wsredis_middleware.contrib.flask import FlaskWebSocketRedisMiddleware, WSRedis, state_of

from .conftest import Browser, make_app

JS_CLIENT = Path(wsredis_middleware.__file__).parent / "static" / "wsredis.js"


def test_init_app_form_wraps_wsgi_app_and_serves_websockets(redis_url, redis_server, flask_server):
    app = make_app(redis_url, init_app=True)
    assert isinstance(app.wsgi_app, FlaskWebSocketRedisMiddleware)
    assert state_of(app).middleware is app.wsgi_app
    server = flask_server(app)
    browser = Browser(server)
    browser.login("john")
    ws = browser.connect("/ws/chat?subscribe-user")
    try:
        wait_attached(server, redis_server, 1)
        with app.app_context():
            RedisPublisher(facility="chat", users=["john"]).publish_message("init_app works")
        assert ws.recv() == "init_app works"
    finally:
        ws.close()


def test_one_extension_object_on_two_apps_keeps_their_settings_apart(redis_url, redis_server, flask_server):
    extension = WSRedis()
    apps = {}
    for name in ("a", "b"):
        apps[name] = flask.Flask(f"app_{name}")
        apps[name].config.update(
            WS4REDIS_CONNECTION=redis_url, WS4REDIS_PREFIX=f"site-{name}", WEBSOCKET_URL=f"/ws-{name}/",
            WS4REDIS_HEARTBEAT=f"--{name}--", WS4REDIS_EXPIRE=0,
        )
        extension.init_app(apps[name])
    servers = {name: flask_server(app) for name, app in apps.items()}
    sockets = {name: servers[name].connect(f"/ws-{name}/news?subscribe-broadcast") for name in apps}
    try:
        assert wait_attached(servers["a"], redis_server, 1) >= {"site-a:broadcast:news"}
        assert wait_attached(servers["b"], redis_server, 1) >= {"site-b:broadcast:news"}
        for name, app in apps.items():
            with app.app_context():
                assert active_config().prefix == f"site-{name}"
                RedisPublisher(facility="news", broadcast=True).publish_message(f"news for {name}")
        assert sockets["a"].recv() == "news for a"
        assert sockets["b"].recv() == "news for b"
        for name, app in apps.items():
            with app.test_request_context("/"):
                rendered = flask.render_template_string("{{ WEBSOCKET_URI }} {{ WS4REDIS_HEARTBEAT }}")
            assert rendered == f'ws://localhost/ws-{name}/ "--{name}--"'
    finally:
        close_all(sockets.values())


def test_initialising_twice_on_one_app_is_an_error(redis_url):
    app = make_app(redis_url)
    with pytest.raises(RuntimeError, match="already initialised"):
        WSRedis(app)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        pytest.param("WS4REDIS_USER_LOADER", "no_such_module.loader", "does not import", id="user-loader-path"),
        pytest.param("WS4REDIS_GROUP_LOADER", 42, "must be a callable", id="group-loader-not-callable"),
        pytest.param("WEBSOCKET_URL", "ws", "must start and end with '/'", id="core-setting"),
    ],
)
def test_bad_settings_fail_at_init_app(redis_url, setting, value, message):
    app = flask.Flask("bad")
    app.config.update({"WS4REDIS_CONNECTION": redis_url, setting: value})
    with pytest.raises(ConfigurationError, match=message):
        WSRedis(app)


def deny_with_abort(*_args):
    flask.abort(403)


def deny_with_forbidden(*_args):
    raise Forbidden("members only")


def deny_with_permission_denied(*_args):
    raise PermissionDenied("members only")


def ask_to_log_in(*_args):
    flask.abort(401)


@pytest.mark.parametrize(
    ("setting", "callback", "status"),
    [
        pytest.param("WS4REDIS_ALLOWED_CHANNELS", deny_with_abort, 403, id="channels-abort-403"),
        pytest.param("WS4REDIS_ALLOWED_CHANNELS", deny_with_forbidden, 403, id="channels-forbidden"),
        pytest.param("WS4REDIS_ALLOWED_CHANNELS", deny_with_permission_denied, 403, id="channels-permission-denied"),
        pytest.param("WS4REDIS_USER_LOADER", deny_with_abort, 403, id="user-loader-abort-403"),
        pytest.param("WS4REDIS_GROUP_LOADER", deny_with_permission_denied, 403, id="group-loader-permission-denied"),
        pytest.param("WS4REDIS_PROCESS_REQUEST", deny_with_forbidden, 403, id="process-request-forbidden"),
        pytest.param("WS4REDIS_ALLOWED_CHANNELS", ask_to_log_in, 401, id="channels-abort-401"),
    ],
)
def test_refusals_in_callbacks_are_http_statuses_before_the_upgrade(
    redis_url, redis_server, flask_server, setting, callback, status
):
    server = flask_server(make_app(redis_url, **{setting: callback}))
    browser = Browser(server)
    browser.login("john")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        browser.connect("/ws/chat?subscribe-user")
    assert refused.value.status_code == status
    assert len(server.middleware.hub.subscriptions) == 0


@pytest.mark.parametrize(
    ("base_url", "script_root", "heartbeat", "expected"),
    [
        pytest.param("http://example.com", "", None, 'ws://example.com/ws/ null', id="http-no-heartbeat"),
        pytest.param("https://example.com:8443", "", "--hb--", 'wss://example.com:8443/ws/ "--hb--"', id="https"),
        pytest.param("http://example.com", "/app", "--hb--", 'ws://example.com/app/ws/ "--hb--"', id="script-root"),
        pytest.param("http://example.com", "", "</script>'", r'ws://example.com/ws/ "\u003c/script\u003e\u0027"',
                     id="heartbeat-escaped"),
    ],
)
def test_context_processor(redis_url, base_url, script_root, heartbeat, expected):
    app = make_app(redis_url, WS4REDIS_HEARTBEAT=heartbeat)
    with app.test_request_context("/", base_url=base_url + script_root):
        assert flask.request.script_root == script_root
        rendered = flask.render_template_string("{{ WEBSOCKET_URI }} {{ WS4REDIS_HEARTBEAT }}")
    assert rendered == expected


@pytest.mark.parametrize(
    ("static_url_path", "url"),
    [
        pytest.param(None, "/_wsredis/wsredis.js", id="default"),
        pytest.param("/assets/realtime", "/assets/realtime/wsredis.js", id="configured"),
    ],
)
def test_js_client_is_served_from_the_package(redis_url, flask_server, static_url_path, url):
    settings = {"WS4REDIS_STATIC_URL_PATH": static_url_path} if static_url_path else {}
    app = make_app(redis_url, **settings)
    with app.test_request_context("/"):
        assert flask.url_for("wsredis.static", filename="wsredis.js") == url
    status, body = Browser(flask_server(app)).request(url)
    assert status == 200
    assert body == JS_CLIENT.read_bytes()
    assert b"WS4Redis" in body


def test_the_handshake_reads_the_session_cookie(redis_url, redis_server, flask_server):
    app = make_app(redis_url)
    server = flask_server(app)
    browser = Browser(server)
    browser.login("mary")
    with_cookie = browser.connect("/ws/chat?subscribe-user&subscribe-broadcast")
    try:
        assert "user:mary:chat" in wait_attached(server, redis_server, 1)
    finally:
        with_cookie.close()
    wait_until(lambda: not server.middleware.hub.subscriptions, what="the first socket to detach")
    browser.jar.clear()  # the same browser without its session cookie is anonymous
    without_cookie = browser.connect("/ws/chat?subscribe-user&subscribe-broadcast")
    try:
        channels = wait_attached(server, redis_server, 1)
        assert "broadcast:chat" in channels
        assert not any(name.startswith("user:") for name in channels)
    finally:
        without_cookie.close()


def test_handshake_runs_in_a_request_context_that_is_torn_down(redis_url, redis_server, flask_server):
    app = make_app(redis_url)
    events = []
    app.before_request(lambda: events.append("before_request"))
    app.teardown_request(lambda exc: events.append(("teardown", flask.request.path, exc)))
    app.teardown_appcontext(lambda exc: events.append("teardown_appcontext"))
    server = flask_server(app)
    ws = server.connect("/ws/chat?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        assert events == [("teardown", "/ws/chat", None), "teardown_appcontext"]
    finally:
        ws.close()


def test_stock_gevent_websocket_handler_runs_flask_callbacks_too(redis_url, redis_server):
    """With geventwebsocket's handler the upgrade comes first: a refusal is a 1008 close frame."""
    import struct

    from geventwebsocket.handler import WebSocketHandler as StockWebSocketHandler

    from tests.conftest import LiveServer

    def members_only(request, channels):
        if request.identity.user is None:
            flask.abort(403)
        return channels

    server = LiveServer(make_app(redis_url, WS4REDIS_ALLOWED_CHANNELS=members_only).wsgi_app,
                        StockWebSocketHandler)
    try:
        anonymous = server.connect("/ws/chat?subscribe-broadcast")
        try:
            opcode, data = anonymous.recv_data(control_frame=True)
            assert (opcode, struct.unpack("!H", data[:2])[0]) == (websocket.ABNF.OPCODE_CLOSE, 1008)
        finally:
            # websocket-client marks itself closed on reading a close frame, after which close()
            # returns without closing the socket; shutdown() closes it.
            anonymous.shutdown()
        browser = Browser(server)
        browser.login("mary")
        member = browser.connect("/ws/chat?subscribe-user")
        try:
            assert "user:mary:chat" in wait_attached(server, redis_server, 1)
        finally:
            member.close(timeout=1)
    finally:
        server.stop()
