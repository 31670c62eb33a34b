"""The context processor, the system checks, the static files finder and get_wsgi_application()."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core import checks
from django.template import RequestContext, Template
from django.test import RequestFactory, override_settings

from wsredis_middleware.contrib.django import finders as wsredis_finders
from wsredis_middleware.contrib.django.context_processors import default, javascript_literal
from wsredis_middleware.contrib.django.middleware import DjangoWebSocketRedisMiddleware

from .conftest import LiveServer


@pytest.mark.parametrize(
    ("secure", "host", "websocket_url", "expected"),
    [
        pytest.param(False, "example.com", "/ws/", "ws://example.com/ws/", id="http"),
        pytest.param(True, "example.com", "/ws/", "wss://example.com/ws/", id="https"),
        pytest.param(False, "localhost:8000", "/ws/", "ws://localhost:8000/ws/", id="host-with-port"),
        pytest.param(True, "example.com", "/live/sockets/", "wss://example.com/live/sockets/", id="prefix"),
        pytest.param(True, "example.com", "/ws/", "wss://push.example.com/ws/", id="WEBSOCKET_HOST"),
    ],
)
def test_websocket_uri_follows_scheme_host_and_prefix(secure, host, websocket_url, expected):
    websocket_host = "push.example.com" if "push." in expected else None
    with override_settings(WEBSOCKET_URL=websocket_url, WEBSOCKET_HOST=websocket_host):
        request = RequestFactory().get("/", secure=secure, HTTP_HOST=host)
        assert default(request)["WEBSOCKET_URI"] == expected


@pytest.mark.parametrize(
    ("heartbeat", "rendered"),
    [
        pytest.param(None, "null", id="unset"),
        pytest.param("--heartbeat--", '"--heartbeat--"', id="plain"),
        pytest.param("</script><b>'\"&\u2028", r'"\u003c/script\u003e\u003cb\u003e\u0027\"\u0026\u2028"', id="hostile"),
    ],
)
def test_heartbeat_renders_as_a_safe_javascript_literal(heartbeat, rendered):
    with override_settings(WS4REDIS_HEARTBEAT=heartbeat):
        request = RequestFactory().get("/", HTTP_HOST="example.com")
        page = Template("<script>var hb = {{ WS4REDIS_HEARTBEAT }};</script>").render(RequestContext(request))
    assert page == f"<script>var hb = {rendered};</script>"
    assert json.loads(rendered) == heartbeat  # the browser reads back exactly the setting


def test_javascript_literal_never_contains_characters_that_end_a_script_or_attribute():
    assert not re.search(r"[<>&'\u2028\u2029]", javascript_literal("<>&'\u2028\u2029"))


@pytest.mark.parametrize(
    ("overrides", "expected_ids"),
    [
        pytest.param({}, [], id="valid"),
        pytest.param({"WEBSOCKET_URL": "ws"}, ["wsredis.E001"], id="bad-url"),
        pytest.param({"WS4REDIS_CONNECTION": "http://redis"}, ["wsredis.E001"], id="bad-connection"),
        pytest.param({"WS4REDIS_ALLOWED_CHANNELS": "no.such.module.fn"}, ["wsredis.E001"], id="bad-dotted-path"),
        pytest.param(
            {"INSTALLED_APPS": ["django.contrib.staticfiles", "wsredis_middleware.contrib.django",
                                "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]},
            ["wsredis.W001"], id="staticfiles-first",
        ),
        pytest.param({"STATICFILES_FINDERS": ["django.contrib.staticfiles.finders.AppDirectoriesFinder"]},
                     ["wsredis.W002"], id="finder-missing"),
    ],
)
def test_system_checks(overrides, expected_ids):
    with override_settings(**overrides):
        found = [m.id for m in checks.run_checks() if m.id and m.id.startswith("wsredis.")]
    assert found == expected_ids


def test_a_bad_setting_names_itself_in_the_check_message():
    with override_settings(WS4REDIS_EXPIRE=-5):
        (message,) = [m for m in checks.run_checks() if m.id == "wsredis.E001"]
    assert "WS4REDIS_EXPIRE" in message.msg


def test_staticfiles_finds_the_client_in_the_package_without_a_copy():
    found = finders.find("wsredis/wsredis.js")
    assert found == str(Path(wsredis_finders.STATIC_ROOT, "wsredis.js"))
    assert Path(found).parent == Path(__import__("wsredis_middleware").__file__).resolve().parent / "static"


@pytest.mark.parametrize(
    ("path", "found"),
    [
        pytest.param("wsredis/client.js", True, id="present"),
        pytest.param("wsredis/missing.js", False, id="absent"),
        pytest.param("other/client.js", False, id="other-prefix"),
        pytest.param("wsredis/../secret.txt", False, id="traversal"),
        pytest.param("wsredis/", False, id="directory"),
    ],
)
def test_finder_lookup(tmp_path, monkeypatch, path, found):
    root = tmp_path / "static"
    root.mkdir()
    (root / "client.js").write_text("// client")
    (tmp_path / "secret.txt").write_text("secret")
    monkeypatch.setattr(wsredis_finders, "STATIC_ROOT", root)
    finder = wsredis_finders.WSRedisFinder()
    assert finder.find(path) == (str(root / path.split("/", 1)[1]) if found else [])
    assert finder.find(path, find_all=True) == ([str(root / "client.js")] if found else [])


def test_collectstatic_lists_the_client_under_the_wsredis_prefix():
    finder = wsredis_finders.WSRedisFinder()
    listed = {(storage.prefix, path) for path, storage in finder.list([])}
    assert ("wsredis", "wsredis.js") in listed


def test_get_wsgi_application_serves_pages_and_websockets(users):
    from wsredis_middleware import RedisPublisher
    from wsredis_middleware.contrib.django import get_wsgi_application

    application = get_wsgi_application()
    assert isinstance(application, DjangoWebSocketRedisMiddleware)
    server = LiveServer(application)
    try:
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(server.http_url("/no-such-page/"), timeout=5)
        not_found.value.close()
        assert not_found.value.code == 404  # Django answered
        with pytest.raises(urllib.error.HTTPError) as plain_get:
            urllib.request.urlopen(server.http_url("/ws/chat"), timeout=5)
        with plain_get.value as response:
            assert response.code == 400 and b"upgrade" in response.read()
        RedisPublisher(facility="chat", broadcast=True).publish_message("kept", expire=30)
        ws = server.connect("/ws/chat?subscribe-broadcast")
        try:
            assert ws.recv() == "kept"  # the persisted message, replayed on connect
        finally:
            ws.close()
    finally:
        server.stop()


wrapped_application = None  # set by the test below; WSGI_APPLICATION points here


@pytest.mark.parametrize("already_wrapped", [pytest.param(False, id="plain"), pytest.param(True, id="wrapped")])
def test_runserver_wraps_the_handler_once(already_wrapped):
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler

    from wsredis_middleware.contrib.django.management.commands.runserver import Command

    global wrapped_application
    wrapped_application = DjangoWebSocketRedisMiddleware(WSGIHandler()) if already_wrapped else WSGIHandler()
    with override_settings(WSGI_APPLICATION=f"{__name__}.wrapped_application", DEBUG=True):
        handler = Command().get_handler(use_static_handler=True, insecure_serving=False)
    if already_wrapped:
        assert isinstance(handler, StaticFilesHandler) and handler.application is wrapped_application
    else:
        assert isinstance(handler, DjangoWebSocketRedisMiddleware)
        assert isinstance(handler.app, StaticFilesHandler)  # static files still served
