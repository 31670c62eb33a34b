"""The HTTP half of the handshake: RFC 6455 checks, the facility from the path, the Origin check."""

from __future__ import annotations

import pytest

from wsredis_middleware.exceptions import HandshakeError
from wsredis_middleware.handshake import (
    MAX_QUERY_LENGTH,
    accept_key,
    check_handshake,
    check_origin,
    facility_from_path,
    is_upgrade_request,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the example key of RFC 6455 section 1.3


def environ(**overrides: str) -> dict[str, str]:
    base = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/ws/foo",
        "QUERY_STRING": "subscribe-broadcast",
        "HTTP_HOST": "example.com",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "keep-alive, Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": KEY,
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_accept_key_matches_rfc_6455_example():
    assert accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_handshake_returns_the_key():
    assert check_handshake(environ()) == KEY
    assert check_handshake(environ(HTTP_UPGRADE="WebSocket", HTTP_CONNECTION="upgrade")) == KEY


@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        pytest.param({"HTTP_UPGRADE": None}, "400", "WebSocket upgrade is required", id="plain-get"),
        pytest.param({"HTTP_CONNECTION": "keep-alive"}, "400", "upgrade is required", id="no-connection-upgrade"),
        pytest.param({"HTTP_UPGRADE": "h2c"}, "400", "upgrade is required", id="other-protocol"),
        pytest.param({"REQUEST_METHOD": "POST"}, "400", "GET", id="post"),
        pytest.param({"SERVER_PROTOCOL": "HTTP/1.0"}, "400", "HTTP/1.1", id="http-1.0"),
        pytest.param({"HTTP_SEC_WEBSOCKET_VERSION": "8"}, "426", "version 13", id="old-version"),
        pytest.param({"HTTP_SEC_WEBSOCKET_VERSION": None}, "426", "version 13", id="no-version"),
        pytest.param({"HTTP_SEC_WEBSOCKET_KEY": None}, "400", "16 bytes", id="no-key"),
        pytest.param({"HTTP_SEC_WEBSOCKET_KEY": "c2hvcnQ="}, "400", "16 bytes", id="short-key"),
        pytest.param({"HTTP_SEC_WEBSOCKET_KEY": "not base64!!!!!!!!!!!!=="}, "400", "16 bytes", id="bad-base64"),
        pytest.param({"QUERY_STRING": "x" * (MAX_QUERY_LENGTH + 1)}, "414", "query string", id="long-query"),
    ],
)
def test_check_handshake_refuses(overrides, status, words):
    with pytest.raises(HandshakeError) as caught:
        check_handshake(environ(**overrides))
    assert caught.value.status.startswith(status)
    assert words in caught.value.reason


def test_is_upgrade_request():
    assert is_upgrade_request(environ())
    assert not is_upgrade_request(environ(HTTP_UPGRADE=None))


@pytest.mark.parametrize(
    ("path", "facility"),
    [
        pytest.param("/ws/foo", "foo", id="plain"),
        pytest.param("/ws/chat/room-1", "chat/room-1", id="slashes"),
        pytest.param("/ws/caf\xc3\xa9", "café", id="utf8-as-latin1"),
    ],
)
def test_facility_from_path(path, facility):
    assert facility_from_path(environ(PATH_INFO=path), "/ws/") == facility


@pytest.mark.parametrize("path", ["/ws/", "/ws/a:b", "/ws/a b", "/ws/\xff", "/ws/a\x01", "/ws/" + "x" * 201])
def test_facility_from_path_refuses(path):
    with pytest.raises(HandshakeError) as caught:
        facility_from_path(environ(PATH_INFO=path), "/ws/")
    assert caught.value.status == "400 Bad Request"
    assert "facility" in caught.value.reason.lower()


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        pytest.param(None, "example.com", (), id="no-origin"),
        pytest.param("https://example.com", "example.com", (), id="same-host"),
        pytest.param("https://example.com:443", "example.com", (), id="explicit-default-port"),
        pytest.param("http://example.com", "example.com:80", (), id="host-with-default-port"),
        pytest.param("http://localhost:8000", "localhost:8000", (), id="same-port"),
        pytest.param("HTTPS://Example.COM/", "example.com", (), id="case-and-slash"),
        pytest.param("https://app.example", "api.example", {"https://app.example"}, id="allowed"),
        pytest.param("https://anything.example", "api.example", {"*"}, id="wildcard"),
    ],
)
def test_check_origin_accepts(origin, host, allowed):
    check_origin(environ(HTTP_ORIGIN=origin, HTTP_HOST=host), allowed)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        pytest.param("https://evil.example", "example.com", (), id="cross-site"),
        pytest.param("http://localhost:9000", "localhost:8000", (), id="other-port"),
        pytest.param("https://example.com.evil.example", "example.com", (), id="suffix-trick"),
        pytest.param("https://example.com", "", (), id="no-host"),
        pytest.param("null", "example.com", (), id="null-origin"),
        pytest.param("file://example.com", "example.com", (), id="other-scheme"),
        pytest.param("https://app.example", "api.example", {"http://app.example"}, id="allowed-other-scheme"),
    ],
)
def test_check_origin_refuses(origin, host, allowed):
    with pytest.raises(HandshakeError) as caught:
        check_origin(environ(HTTP_ORIGIN=origin, HTTP_HOST=host), allowed)
    assert caught.value.status == "403 Forbidden"
    assert "WS4REDIS_ALLOWED_ORIGINS" in caught.value.reason
