"""Template context: where the browser connects, and the heartbeat string it should expect.

    var ws4redis = WS4Redis({
        uri: '{{ WEBSOCKET_URI }}chat?subscribe-broadcast',
        heartbeat_msg: {{ WS4REDIS_HEARTBEAT }}
    });
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from .conf import get_config

__all__ = ["default", "javascript_literal"]

# Characters that could end a <script> element, an HTML attribute or a JS string early.
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}


def javascript_literal(value: str | None) -> SafeString:
    """*value* as a JavaScript expression safe inside ``<script>`` and attributes; None is ``null``."""
    text = json.dumps(value)  # ensure_ascii also escapes U+2028 and U+2029
    for char, escaped in _UNSAFE.items():
        text = text.replace(char, escaped)
    return mark_safe(text)  # safe: every character that could break out is escaped above


def default(request: Any) -> dict[str, Any]:
    """``WEBSOCKET_URI`` (``ws://host/ws/`` or ``wss://``) and ``WS4REDIS_HEARTBEAT`` (a JS literal).

    The host is the request's, or ``WEBSOCKET_HOST`` when set (as in ws4redis).
    """
    config = get_config()
    scheme = "wss://" if request.is_secure() else "ws://"
    # ws4redis's WEBSOCKET_HOST: WebSockets served by another host name than the pages.
    host = getattr(settings, "WEBSOCKET_HOST", None) or request.get_host()
    return {
        "WEBSOCKET_URI": f"{scheme}{host}{config.websocket_url}",
        "WS4REDIS_HEARTBEAT": javascript_literal(config.heartbeat),
    }
