"""Refusals before the upgrade: every one is an ordinary HTTP status a browser and a log can see.

Handshakes are sent with the raw client so that the status line is read exactly as the server
wrote it, and a refusal is also checked to leave no socket attached to the hub.
"""

from __future__ import annotations

import http.client

import pytest
import werkzeug.exceptions
from django.core import exceptions as django_exceptions

from wsredis_middleware import PermissionDenied

from .rawws import RawClient, handshake_status
from .support import wait_attached

EVIL = "http://evil.example"


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_plain_get_to_the_prefix_says_an_upgrade_is_required(live_server):
    server = live_server()
    status, body = get(server.port, "/ws/foo?subscribe-broadcast")
    assert status == 400
    assert b"WebSocket upgrade is required" in body


@pytest.mark.parametrize("path", ["/", "/index.html?x=1", "/wsfoo", "/api/ws/foo"])
def test_other_paths_reach_the_wrapped_app(live_server, path):
    status, body = get(live_server().port, path)
    assert (status, body) == (200, f"hello from the app at {path.partition('?')[0]}".encode())


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/ws/", id="empty"),
        pytest.param("/ws/a:b", id="colon"),
        pytest.param("/ws/a%20b", id="space"),
        pytest.param("/ws/a%09b", id="tab"),
        pytest.param("/ws/a%01b", id="control"),
        pytest.param("/ws/a%E2%80%A8b", id="line-separator"),
        pytest.param("/ws/" + "x" * 201, id="too-long"),
        pytest.param("/ws/%FF", id="not-utf8"),
    ],
)
def test_invalid_facility_is_refused_before_the_upgrade(live_server, path):
    server = live_server()
    response = handshake_status(server.port, path + "?subscribe-broadcast")
    assert response.status == 400, response.status_line
    assert b"facility" in response.body.lower()
    assert not server.middleware.hub.subscriptions


def test_a_valid_facility_of_the_maximum_length_is_accepted(live_server, redis_server):
    server = live_server()
    with RawClient(server.port) as client:
        assert client.handshake("/ws/" + "x" * 200 + "?subscribe-broadcast").status == 101
        assert wait_attached(server, redis_server, 1) == {"broadcast:" + "x" * 200}


@pytest.mark.parametrize(
    ("settings", "origin", "status"),
    [
        pytest.param({}, EVIL, 403, id="cross-site"),
        pytest.param({}, "http://127.0.0.1:{port}", 101, id="same-host"),
        pytest.param({}, "http://127.0.0.1:1{port}", 403, id="same-host-other-port"),
        pytest.param({}, None, 101, id="no-origin"),
        pytest.param({"allowed_origins": ["https://app.example"]}, "https://app.example", 101, id="allowed"),
        pytest.param({"allowed_origins": ["https://app.example"]}, "http://app.example", 403, id="other-scheme"),
        pytest.param({"allowed_origins": "*"}, EVIL, 101, id="wildcard"),
    ],
)
def test_origin_check(live_server, redis_server, settings, origin, status):
    server = live_server(**settings)
    headers = {} if origin is None else {"Origin": origin.format(port=server.port)}
    with RawClient(server.port) as client:
        response = client.handshake("/ws/foo?subscribe-broadcast", headers)
        assert response.status == status, response.status_line
        wait_attached(server, redis_server, 1 if status == 101 else 0)


def raise_ours(request):
    raise PermissionDenied("no entry")


def raise_django(request):
    raise django_exceptions.PermissionDenied("no entry")


def raise_werkzeug(request):
    raise werkzeug.exceptions.Forbidden()


def callback(raiser):
    def allowed_channels(request, channels):
        raiser(request)

    return allowed_channels


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"resolver": raise_ours}, id="resolver-ours"),
        pytest.param({"resolver": raise_django}, id="resolver-django"),
        pytest.param({"resolver": raise_werkzeug}, id="resolver-werkzeug"),
        pytest.param({"allowed_channels": callback(raise_ours)}, id="callback-ours"),
        pytest.param({"allowed_channels": callback(raise_django)}, id="callback-django"),
        pytest.param({"allowed_channels": callback(raise_werkzeug)}, id="callback-werkzeug"),
    ],
)
def test_permission_denied_is_403_before_the_upgrade(live_server, settings):
    server = live_server(**settings)
    with RawClient(server.port) as client:
        response = client.handshake("/ws/foo?subscribe-broadcast")
        assert response.status_line == "HTTP/1.1 403 Forbidden"
        assert "sec-websocket-accept" not in response.headers
    assert not server.middleware.hub.subscriptions


def test_other_resolver_errors_are_not_mistaken_for_a_denial(live_server):
    def broken(request):
        raise RuntimeError("a bug")

    response = handshake_status(live_server(resolver=broken).port, "/ws/foo?subscribe-broadcast")
    assert response.status == 500


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Sec-WebSocket-Version": "8"}, 426, id="old-version"),
        pytest.param({"Sec-WebSocket-Key": "c2hvcnQ="}, 400, id="key-not-16-bytes"),
        pytest.param({"Sec-WebSocket-Key": None}, 400, id="no-key"),
        pytest.param({"Upgrade": None}, 400, id="no-upgrade-header"),
    ],
)
def test_malformed_handshake_headers(live_server, headers, status):
    server = live_server()
    with RawClient(server.port) as client:
        response = client.handshake("/ws/foo?subscribe-broadcast", headers)
    assert response.status == status, response.status_line
