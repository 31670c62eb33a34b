"""Serving the browser client, ``wsredis.js``, from the package itself (nothing to copy).

The generic middleware answers plain GETs of ``{WEBSOCKET_URL}wsredis.js`` and ``wsredis.mjs``
(the ES-module form) with these files; the Django and Flask integrations point their static-file
machinery at :data:`STATIC_DIR`.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["CLIENT_FILES", "STATIC_DIR", "serve_client_file"]

STATIC_DIR = Path(__file__).with_name("static")
CLIENT_FILES = ("wsredis.js", "wsredis.mjs")


@functools.cache
def _load(name: str) -> tuple[bytes, str]:
    body = (STATIC_DIR / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def serve_client_file(name: str, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """Answer a GET or HEAD for one of :data:`CLIENT_FILES`, with an ETag for revalidation."""
    body, etag = _load(name)
    headers = [
        ("Content-Type", "text/javascript; charset=utf-8"),
        ("ETag", etag),
        ("Cache-Control", "public, max-age=3600"),
    ]
    if environ.get("HTTP_IF_NONE_MATCH") == etag:
        start_response("304 Not Modified", headers)
        return []
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK", headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
