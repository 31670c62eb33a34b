"""The template context processor: where the browser connects, and the heartbeat it expects.

    var ws = WS4Redis({
        uri: '{{ WEBSOCKET_URI }}chat?subscribe-broadcast',
        heartbeat_msg: {{ WS4REDIS_HEARTBEAT }},
        ...
    });
"""

from __future__ import annotations

import flask
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from .state import state_of

__all__ = ["websocket_context", "websocket_uri"]


def websocket_uri() -> str:
    """``ws://`` or ``wss://`` (as the request's scheme), host, script root and ``WEBSOCKET_URL``.

    Behind a TLS-terminating proxy, use werkzeug's ``ProxyFix`` so the scheme and host are the
    browser's, not the proxy's.
    """
    request = flask.request
    scheme = "wss" if request.scheme in ("https", "wss") else "ws"
    return f"{scheme}://{request.host}{request.script_root}{state_of(flask.current_app).config.websocket_url}"


def websocket_context() -> dict[str, object]:
    """``WEBSOCKET_URI`` and ``WS4REDIS_HEARTBEAT`` (a JavaScript literal: a quoted string or null).

    The heartbeat is JSON with ``<``, ``>``, ``&`` and ``'`` escaped, so it is safe inside a
    ``<script>`` element and in an HTML attribute.
    """
    if not flask.has_request_context():
        return {}
    heartbeat = state_of(flask.current_app).config.heartbeat
    return {
        "WEBSOCKET_URI": websocket_uri(),
        "WS4REDIS_HEARTBEAT": Markup(htmlsafe_json_dumps(heartbeat)),
    }
