"""The HTTP side of opening a WebSocket: validating the upgrade request and answering it.

Everything here runs before the upgrade, so every refusal is an ordinary HTTP response that a
browser, a proxy log and a monitoring system can all see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .channels import check_facility
from .exceptions import HandshakeError

__all__ = [
    "accept_key", "check_handshake", "check_origin", "facility_from_path", "is_upgrade_request",
    "switching_protocols_headers",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
MAX_QUERY_LENGTH = 4096  # far above any real subscription list, far below a memory attack


def is_upgrade_request(environ: Mapping[str, Any]) -> bool:
    """The client asked to switch this request to the WebSocket protocol."""
    return (
        environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        and "upgrade" in environ.get("HTTP_CONNECTION", "").lower()
    )


def check_handshake(environ: Mapping[str, Any]) -> str:
    """Validate an RFC 6455 opening handshake; return the client's key."""
    if not is_upgrade_request(environ):
        raise HandshakeError(
            "400 Bad Request",
            "This URL is a WebSocket endpoint: a WebSocket upgrade is required "
            "(connect with a WebSocket client, e.g. new WebSocket('ws://...')).",
        )
    if environ.get("REQUEST_METHOD") != "GET":
        raise HandshakeError("400 Bad Request", "A WebSocket handshake must use GET.")
    if environ.get("SERVER_PROTOCOL", "HTTP/1.1") not in ("HTTP/1.1", "HTTP/2", "HTTP/2.0"):
        raise HandshakeError("400 Bad Request", "A WebSocket handshake needs HTTP/1.1.")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
        raise HandshakeError("426 Upgrade Required", "Only WebSocket protocol version 13 is supported.")
    key: str = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise HandshakeError("400 Bad Request", "Sec-WebSocket-Key must be 16 bytes in base64.")
    if len(environ.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        raise HandshakeError("414 URI Too Long", f"The query string exceeds {MAX_QUERY_LENGTH} characters.")
    return key


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value that proves we read the client's key."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def switching_protocols_headers(key: str) -> list[tuple[str, str]]:
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key))]


def facility_from_path(environ: Mapping[str, Any], websocket_url: str) -> str:
    """The facility named by the path after the WebSocket prefix, validated."""
    raw = environ.get("PATH_INFO", "")[len(websocket_url):]
    try:
        facility = raw.encode("latin-1").decode("utf-8")  # WSGI strings carry bytes as latin-1
    except UnicodeError:
        raise HandshakeError("400 Bad Request", "The facility is not valid UTF-8.") from None
    try:
        return check_facility(facility)
    except ValueError as exc:
        raise HandshakeError("400 Bad Request", f"Invalid facility: {exc}.") from None


def _origin_key(scheme: str, netloc: str) -> str:
    """``host`` or ``host:port``, the port dropped when it is the scheme's default."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:  # an unparsable port, or a bracket that opens no IPv6 address
        return netloc  # malformed: compared verbatim, so it can only match itself
    host = parts.hostname or ""
    return host if port is None or str(port) == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"


def check_origin(environ: Mapping[str, Any], allowed_origins: Iterable[str]) -> None:
    """Refuse cross-site WebSocket hijacking: a browser's Origin must be this host or an allowed one.

    Requests without an Origin header come from non-browser clients, which cannot carry a
    victim's cookies across sites, so they pass.
    """
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return
    origin = origin.strip().lower().rstrip("/")
    allowed = set(allowed_origins)
    if "*" in allowed or origin in allowed:
        return
    try:
        parts = urlsplit(origin)
    except ValueError:  # e.g. "http://[::1": it can only be refused, never a server error
        parts = urlsplit("")
    host = environ.get("HTTP_HOST", "")
    if parts.scheme in _DEFAULT_PORTS and parts.netloc and host:
        if _origin_key(parts.scheme, parts.netloc) == _origin_key(parts.scheme, host):
            return
    raise HandshakeError(
        "403 Forbidden",
        f"Origin {origin!r} is not allowed; add it to WS4REDIS_ALLOWED_ORIGINS if it is yours.",
    )
